"""Tiny real QEMU guests for the hypervisor tests: libvirtd, the test storage pool, and the guest image.

    from tests.hypervisor.guest import prepare, define_guest
    image = prepare()                    # libvirtd running, pool defined, kernel + initramfs in place
    guest = define_guest(image)          # a shut-off VM with a qcow2 disk in the pool
    ...
    guest.remove()                       # destroy, undefine, delete its volume and serial log

The image is scripts/guest/build.py's (Debian's kernel and busybox, see there);
it is copied to /var/lib/libvirt/images/fleetvisor-test/, where the QEMU user
can read it. Every VM is named fv-test-<random> and has a 16 MiB qcow2 disk
made with `qemu-img create` in the `fleetvisor-test` dir pool, so internal
snapshots and deleting a VM with its storage work as on a real host.

When is the guest ready? Its serial port is a pty (so `virsh console` and the
agent's console work as on any VM) with a `<log file=…/>` that virtlogd
writes: everything the guest prints on ttyS0 lands in that file, and the
guest prints FLEETVISOR-GUEST-READY once acpid listens for the power button.
Waiting for that line is reliable where the alternatives are not: libvirt
says "running" the moment QEMU starts, seconds before the kernel has loaded
the ACPI button driver, so an ACPI request sent then is simply lost, and a
fixed settle time would have to be the worst boot on the slowest machine.
`<serial type='file'>` would work too but takes the console away. The log is
emptied at each QEMU start (append='off'); an ACPI reboot or a reset happens
inside the same QEMU process and prints a second marker, so counting markers
tells boots apart. The log is written by virtlogd as root, mode 0600: these
tests run as root, as they must to start libvirtd themselves.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

URI = "qemu:///system"
BASE = Path("/var/lib/libvirt/images/fleetvisor-test")
POOL = "fleetvisor-test"
POOL_DIR = BASE / "pool"
LOG_DIR = BASE / "logs"
READY_MARKER = "FLEETVISOR-GUEST-READY"
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "guest" / "build.py"
DISK_SIZE = "16M"
LIBVIRT_SOCKETS = (Path("/run/libvirt/libvirt-sock"), Path("/var/run/libvirt/libvirt-sock"))


@dataclass(frozen=True)
class Image:
    kernel: Path
    initrd: Path
    build_seconds: float


def virsh(*args: str, check: bool = True, timeout: float = 60) -> str:
    """Run virsh against qemu:///system (an argument list, never a shell) and return its stdout."""
    done = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def virsh_fields(*args: str) -> dict[str, str]:
    """A `Key:   value` listing (dominfo, snapshot-info, pool-info) as a dict."""
    pairs = (line.split(":", 1) for line in virsh(*args).splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def pool_volumes() -> list[str]:
    """The volume names `virsh vol-list` shows for the test pool (this virsh has no --name)."""
    lines = virsh("vol-list", POOL).splitlines()
    return [line.split()[0] for line in lines[2:] if line.strip()]


def prepare() -> Image:
    """Everything the tests need before the first VM: libvirtd, the pool, the guest image."""
    ensure_libvirtd()
    image = build_image()
    ensure_pool()
    return image


def ensure_libvirtd(timeout: float = 30) -> None:
    """Start virtlogd and libvirtd if they are not running (as CI does), and wait until libvirtd answers."""
    if _libvirtd_answers():
        return
    if os.geteuid() != 0:
        raise AssertionError("libvirtd is not running and only root can start it: run `virtlogd -d; libvirtd -d`")
    for daemon in ("virtlogd", "libvirtd"):
        if subprocess.run(["pgrep", "-x", daemon], capture_output=True, check=False).returncode != 0:
            subprocess.run([daemon, "-d"], check=True, capture_output=True, timeout=30)
    deadline = time.monotonic() + timeout
    while not _libvirtd_answers():
        if time.monotonic() > deadline:
            raise AssertionError(f"libvirtd did not answer within {timeout} s of being started")
        time.sleep(0.2)


def restart_libvirtd(timeout: float = 30) -> None:
    """Stop libvirtd as a package upgrade or `systemctl restart` would (SIGTERM), and start it again. Running
    guests live on: their QEMU processes are not libvirtd's, and it picks them up again when it starts."""
    subprocess.run(["pkill", "-TERM", "-x", "libvirtd"], check=True, timeout=10)
    wait_for(lambda: subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True, check=False).returncode != 0,
             timeout, "libvirtd to stop")
    ensure_libvirtd(timeout)


def _libvirtd_answers() -> bool:
    if not any(socket.exists() for socket in LIBVIRT_SOCKETS):
        return False
    done = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def build_image() -> Image:
    """Build (or take from the cache) the kernel and initramfs, and put them where QEMU can read them."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--json"], capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise AssertionError(f"building the test guest failed:\n{done.stdout}\n{done.stderr}")
    built = json.loads(done.stdout)
    for directory in (BASE, POOL_DIR, LOG_DIR):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
    kernel, initrd = _publish(Path(built["kernel"]), "vmlinuz"), _publish(Path(built["initrd"]), "initrd.img")
    return Image(kernel, initrd, time.monotonic() - started)


def _publish(source: Path, name: str) -> Path:
    target = BASE / name
    if not target.exists() or target.read_bytes() != source.read_bytes():
        partial = BASE / f".{name}.{os.getpid()}"
        shutil.copyfile(source, partial)
        partial.chmod(0o644)
        partial.replace(target)
    return target


def ensure_pool() -> None:
    """The `fleetvisor-test` dir pool over POOL_DIR: defined, started, and aware of every file in it."""
    if subprocess.run(["virsh", "-c", URI, "pool-info", POOL], capture_output=True, check=False).returncode != 0:
        pool = ET.Element("pool", type="dir")
        ET.SubElement(pool, "name").text = POOL
        ET.SubElement(ET.SubElement(pool, "target"), "path").text = str(POOL_DIR)
        _define("pool-define", pool)
    if virsh_fields("pool-info", POOL).get("State") != "running":
        virsh("pool-start", POOL)


def _define(command: str, element: ET.Element) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as xml:
        xml.write(ET.tostring(element, encoding="unicode"))
        xml.flush()
        virsh(command, xml.name)


@dataclass
class QemuGuest:
    name: str
    uuid: str
    serial_log: Path
    volume: str | None  # the disk's volume name in POOL

    def start(self) -> None:
        virsh("start", self.name)

    def state(self) -> str:
        return virsh("domstate", self.name)

    def state_with_reason(self) -> str:
        return virsh("domstate", self.name, "--reason")

    def boots(self) -> int:
        """Ready markers printed since QEMU last started."""
        try:
            return self.serial_log.read_text(errors="replace").count(READY_MARKER)
        except FileNotFoundError:
            return 0

    def wait_ready(self, boots: int = 1, timeout: float = 120) -> float:
        """Wait until the guest has printed its ready marker `boots` times; seconds waited."""
        return wait_for(lambda: self.boots() >= boots, timeout, f"{self.name} to print {READY_MARKER} x{boots}")

    def wait_state(self, state: str, timeout: float = 60) -> float:
        return wait_for(lambda: self.state() == state, timeout, f"{self.name} to be {state}")

    def ensure_running_ready(self) -> None:
        """Running, with acpid listening: start and wait for the marker if it is not running."""
        state = self.state()
        if state == "paused":
            virsh("resume", self.name)
        elif state != "running":
            self.start()
            self.wait_ready()

    def ensure_shut_off(self) -> None:
        if self.state() != "shut off":
            virsh("destroy", self.name, check=False)
            self.wait_state("shut off")

    def remove(self) -> None:
        """Destroy and undefine the VM, then delete its volume and its serial log; never raises for leftovers."""
        virsh("destroy", self.name, check=False)
        virsh("undefine", self.name, "--snapshots-metadata", check=False)
        if self.volume is not None and self.volume in pool_volumes():
            virsh("vol-delete", self.volume, "--pool", POOL, check=False)
        self.serial_log.unlink(missing_ok=True)


def disk_info(volume: str) -> dict[str, Any]:
    """`qemu-img info` of a volume in POOL (format, virtual size, backing file)."""
    done = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(POOL_DIR / volume)], capture_output=True,
                          text=True, check=True, timeout=60)
    return json.loads(done.stdout)


def remove_clone(name: str) -> None:
    """Destroy and undefine a VM a test made by cloning, and delete its volumes (`<name>-<target>.*`)."""
    virsh("destroy", name, check=False)
    virsh("undefine", name, "--nvram", check=False)
    for volume in pool_volumes():
        if volume.startswith(f"{name}-"):
            virsh("vol-delete", volume, "--pool", POOL, check=False)


def define_guest(image: Image, *, acpid: bool = True, disk: bool = True, memory_mib: int = 128,
                 agent_channel: bool = False) -> QemuGuest:
    """Define (not start) a new VM from the image; with acpid=False its guest ignores ACPI shutdown requests.

    With agent_channel=True it has a QEMU guest-agent channel, but the image runs no agent on it.
    """
    name = f"fv-test-{secrets.token_hex(4)}"
    volume = f"{name}.qcow2" if disk else None
    if volume is not None:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(POOL_DIR / volume), DISK_SIZE], check=True,
                       capture_output=True, timeout=60)
        virsh("pool-refresh", POOL)
    serial_log = LOG_DIR / f"{name}.serial.log"
    _define("define", domain_xml(name, image, serial_log, volume=volume, acpid=acpid, memory_mib=memory_mib,
                                 agent_channel=agent_channel))
    return QemuGuest(name, virsh("domuuid", name), serial_log, volume)


def domain_xml(name: str, image: Image, serial_log: Path, *, volume: str | None, acpid: bool,
               memory_mib: int, agent_channel: bool = False) -> ET.Element:
    """A direct-kernel-boot `qemu` domain: 1 vCPU, ACPI, serial console with a log, a user-mode NIC, a disk."""
    domain = ET.Element("domain", type="qemu")
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(domain, "vcpu").text = "1"
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_, "kernel").text = str(image.kernel)
    ET.SubElement(os_, "initrd").text = str(image.initrd)
    ET.SubElement(os_, "cmdline").text = "console=ttyS0" + ("" if acpid else " fleetvisor.acpid=off")
    ET.SubElement(ET.SubElement(domain, "features"), "acpi")
    ET.SubElement(domain, "on_poweroff").text = "destroy"
    ET.SubElement(domain, "on_reboot").text = "restart"
    devices = ET.SubElement(domain, "devices")
    if volume is not None:
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="qcow2")
        ET.SubElement(disk, "source", file=str(POOL_DIR / volume))
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
    nic = ET.SubElement(devices, "interface", type="user")
    ET.SubElement(nic, "mac", address="52:54:00:f0:00:01")
    ET.SubElement(nic, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "log", file=str(serial_log), append="off")
    ET.SubElement(serial, "target", port="0")
    ET.SubElement(ET.SubElement(devices, "console", type="pty"), "target", type="serial", port="0")
    if agent_channel:
        channel = ET.SubElement(devices, "channel", type="unix")
        ET.SubElement(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    ET.SubElement(devices, "memballoon", model="none")
    return domain


ISOLINUX = Path("/usr/lib/ISOLINUX/isolinux.bin")  # Debian: isolinux
LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")  # Debian: syslinux-common


def boot_iso(image: Image, cmdline: str) -> bytes:
    """A BIOS-bootable ISO (ISOLINUX, El Torito) of the guest image, booting it with `cmdline`, for the tests
    that boot it as an installer ISO would be (vm.deploy's cdroms) rather than by direct kernel boot."""
    import pycdlib  # the agent's own dependency (seed media); imported here only for these tests

    for needed, package in ((ISOLINUX, "isolinux"), (LDLINUX, "syslinux-common")):
        if not needed.exists():
            raise AssertionError(f"{needed} is missing: install Debian's {package} (scripts/setup.sh does)")
    config = (f"DEFAULT fv\nPROMPT 0\nTIMEOUT 0\nLABEL fv\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n"
              f"  APPEND {cmdline}\n").encode()
    initrd = image.initrd.read_bytes()
    if b"fleetvisor.firstboot" not in gzip.decompress(initrd):
        # Another checkout's older build.py republished its initramfs meanwhile: build (and publish) ours again.
        initrd = build_image().initrd.read_bytes()
    files = {"isolinux.bin": ISOLINUX.read_bytes(), "ldlinux.c32": LDLINUX.read_bytes(), "isolinux.cfg": config,
             "vmlinuz": image.kernel.read_bytes(), "initrd.img": initrd}
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, rock_ridge="1.09", vol_ident="FVBOOT")
    for name, data in files.items():
        iso.add_fp(io.BytesIO(data), len(data), f"/{name.upper().replace('.', '_', name.count('.') - 1)};1",
                   rr_name=name)
    iso.add_eltorito("/ISOLINUX.BIN;1", bootcatfile="/BOOT.CAT;1", boot_load_size=4, boot_info_table=True)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition()` every 0.1 s until it is true; seconds waited, or AssertionError naming `what`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started
