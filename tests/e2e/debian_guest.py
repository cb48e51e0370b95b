"""A Debian 12 VM whose PID 1 is systemd, booted under QEMU for tests that need a real host.

    image = debian_image.build(PACKAGES)                 # scripts/guest/debian_image.py, cached
    with DebianGuest.boot(image, tmp_path) as guest:     # waits until SSH answers
        guest.ssh("sudo systemctl is-system-running")
        guest.reboot()

QEMU runs TCG only (`-accel tcg`): this machine's nested KVM aborts QEMU with
`-cpu max` or `-cpu host` (MSR 0x10a) and boots nothing with the other CPU
models tried, and TCG behaves the same on every CI machine. User-mode
networking only: SSH reaches the guest through a port forward on
127.0.0.1, and the guest reaches this machine's loopback as 10.0.2.2, so
whatever a test serves on 127.0.0.1 (the local stack, a package mirror) is
there for it and nothing else is. The disk is a qcow2 overlay in the test's
directory over the cached image, which stays untouched. The serial console
goes to `serial.log` beside it, for a failure's message.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from infra.local import free_port
from scripts.guest.debian_image import LOGIN_USER, DebianImage

HOST_FROM_GUEST = "10.0.2.2"  # QEMU user-mode networking's address for this machine's 127.0.0.1
MEMORY_MIB = 2048
SSH_WAIT_SECONDS = 240


class Timings(dict[str, float]):
    """Seconds per phase of a test on a Debian guest, each printed as it ends (pytest -s) under `label`."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def phase(self, name: str, started: float) -> float:
        self[name] = round(time.monotonic() - started, 1)
        print(f"{self.label}: {name} {self[name]} s", flush=True)
        return self[name]


class DebianGuest:
    def __init__(self, image: DebianImage, directory: Path) -> None:
        self.image = image
        self.directory = directory
        self.ssh_port = free_port()
        self.serial_log = directory / "serial.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    @contextlib.contextmanager
    def boot(cls, image: DebianImage, directory: Path) -> Iterator[DebianGuest]:
        guest = cls(image, directory)
        guest.start()
        try:
            guest.wait_for_ssh()
            yield guest
        finally:
            guest.kill()

    def start(self) -> None:
        overlay = self.directory / "disk.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(self.image.disk), "-F", "raw",
                        str(overlay)], check=True, timeout=60)
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", str(MEMORY_MIB),
                "-display", "none", "-monitor", "none", "-serial", f"file:{self.serial_log}",
                "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
                "-append", self.image.cmdline(),
                "-drive", f"file={overlay},if=virtio,format=qcow2",
                "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"]
        log = open(self.directory / "qemu.log", "wb")  # noqa: SIM115 - QEMU's own messages, kept while it runs
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def ssh(self, command: str, *, timeout: float = 300, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """`command` run by the guest's login shell as LOGIN_USER (who may sudo)."""
        done = subprocess.run(self._ssh_argv(connect_timeout=10) + [command], input=stdin, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"in the guest: {command!r} exited {done.returncode}\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def wait_for_ssh(self, timeout: float = SSH_WAIT_SECONDS) -> float:
        """Seconds until SSH answered, or AssertionError with the end of the serial console."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"QEMU exited with {self.proc.returncode}: {self._tail()}")
            probe = subprocess.run(self._ssh_argv(connect_timeout=3) + ["true"], capture_output=True, timeout=30,
                                   check=False)
            if probe.returncode == 0:
                return time.monotonic() - started
            time.sleep(1)
        raise AssertionError(f"the guest's SSH did not answer within {timeout:.0f} s: {self._tail()}")

    def reboot(self) -> None:
        """`systemctl reboot`, then wait until SSH is gone (so that a later wait sees the new boot)."""
        self.ssh("sudo systemctl reboot", check=False, timeout=30)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            probe = subprocess.run(self._ssh_argv(connect_timeout=2) + ["true"], capture_output=True, timeout=30,
                                   check=False)
            if probe.returncode != 0:
                return
            time.sleep(0.5)
        raise AssertionError("the guest did not go down after systemctl reboot")

    def _ssh_argv(self, *, connect_timeout: int) -> list[str]:
        return ["ssh", "-q", "-i", str(self.image.ssh_key), "-p", str(self.ssh_port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", f"ConnectTimeout={connect_timeout}",
                # A guest emulated on a busy machine can be silent for a while: give up after 2 minutes, not 15 s.
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=24",
                f"{LOGIN_USER}@127.0.0.1"]

    def _tail(self) -> str:
        try:
            return self.serial_log.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no serial log)"
