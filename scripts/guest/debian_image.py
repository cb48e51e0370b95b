#!/usr/bin/env python3
"""Build (once, then from the cache) a bootable Debian 12 disk whose PID 1 is systemd, with the packages asked for.

    python3 scripts/guest/debian_image.py --package openssh-server --package curl     # prints the paths
    python3 scripts/guest/debian_image.py --json --package ...                       # the same as JSON

    from scripts.guest.debian_image import build
    image = build(["openssh-server", "libvirt-daemon-system", ...])
    image.disk, image.kernel, image.initrd, image.ssh_key, image.cmdline()

What it makes: `mmdebstrap --variant=apt` of bookworm with Debian's kernel,
systemd, udev, dbus, systemd-networkd (DHCP on every ethernet interface) and the
packages asked for, without recommends, docs or translations; the kernel and
its initramfs are copied out of /boot and the tree becomes a raw ext4 disk
(`mkfs.ext4 -d`, no loop mount). Boot it by direct kernel boot:

    qemu-img create -f qcow2 -b DISK -F raw overlay.qcow2     # never boot the cached disk itself
    qemu-system-x86_64 -kernel KERNEL -initrd INITRD -append "$(image.cmdline())" \\
        -drive file=overlay.qcow2,if=virtio,format=qcow2 \\
        -nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:PORT-:22 ...

`cmdline()` is `root=/dev/vda rw console=ttyS0 systemd.firstboot=off`:
mmdebstrap leaves /etc/machine-id empty, which systemd takes for a first boot
and would ask questions on the console for. With openssh-server in the set,
the user `fleetvisor` (passwordless sudo, as an operator's account on a host
would be) logs in with the key `image.ssh_key`, generated at build time and
kept beside the disk. libvirt's `default` network is not autostarted (it
would need dnsmasq and iptables, and guests here have no use for it).

A disk that boots by itself (`build(..., bootable=True)`, and `cloud_image()` for
the cloud-init guest of guided deployments): the same tree on a partitioned disk, as a cloud image
is, so that a VM defined from it like any other (no -kernel) boots: an MBR with SYSLINUX's boot
code, a FAT boot partition holding SYSLINUX, the kernel and its initramfs
(`root=LABEL=fleetvisor-root`, console on ttyS0), then the ext4 root. All of it is made in files
(mkfs.fat, mcopy, `syslinux --install` on the FAT image, sfdisk, dd), with no loop device or
mount, and converted to qcow2 (`image.disk` is then `disk.qcow2`).

`cloud_image()` adds cloud-init (NoCloud only, the network left to the image's systemd-networkd,
Ed25519 host keys made at first boot, /etc/hosts kept to the host name, locale C.UTF-8), growpart
and resize2fs (the root grows to the VM's disk at first boot), openssh-server, tzdata and nginx
(preinstalled, as a golden image would have it: the guest reaches no registry, so the built-in
nginx installer's own apt-get is skipped and the rest of it runs for real), and no
login of its own: like a distribution's cloud image, nobody logs in until cloud-init has made a
user from a seed.

Reuse: the agent's real-host test (tests/e2e/test_systemd_host.py) builds it
with the agent's host packages; a cloud-init guest (cloud-init +
openssh-server, for guided VM deployments) builds it with its own set and the
same code. The cache key is this recipe plus the sorted package list plus
the `extra_hook` commands, so each set is built once and shared by every test
run that asks for the same one; two tests that want to share one build (the
real-host test and the cloud-init guest, say) ask for the union of their sets. Cache: $FLEETVISOR_GUEST_CACHE (default
~/.cache/fleetvisor-guest, as scripts/guest/build.py), directory
`debian12-<key>`. A build that fails or is interrupted leaves no entry.

Needs root (mmdebstrap's root mode and chroot), mmdebstrap, e2fsprogs and
openssh-client (scripts/setup.sh installs them) and the Debian mirror; one
build takes about two minutes and 1.5 GB of disk for the libvirt set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
LOGIN_USER = "fleetvisor"
DISK_SIZE = "4G"  # sparse: the libvirt set fills about 1.1 GB of it, the rest is room for what the tests install
BASE_PACKAGES = ("linux-image-amd64", "initramfs-tools", "systemd-sysv", "udev", "dbus", "libnss-systemd",
                 "iproute2", "sudo", "ca-certificates")
KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 systemd.firstboot=off"
ROOT_LABEL = "fleetvisor-root"
BOOTABLE_CMDLINE = f"root=LABEL={ROOT_LABEL} rw console=tty0 console=ttyS0,115200n8 systemd.firstboot=off"
BOOT_MIB = 128  # the FAT partition: a kernel and its initramfs with room for a second pair
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")  # syslinux-common
SYSLINUX_CFG = f"""SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 1
LABEL linux
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND {BOOTABLE_CMDLINE}
"""
BOOTABLE_HOOK = f"""
echo 'LABEL={ROOT_LABEL} / ext4 defaults 0 1' > "$root/etc/fstab"
"""
# e2fsprogs and cloud-guest-utils: cloud-init grows the root partition and its file system to the VM's disk.
# nginx: the guest has no registry, so the built-in nginx installer finds it installed and configures it.
CLOUD_PACKAGES = ("cloud-init", "openssh-server", "tzdata", "e2fsprogs", "cloud-guest-utils", "nginx")
# cloud-init as a cloud image has it, for NoCloud seeds only; no login but the one a seed makes.
CLOUD_HOOK = """
install -d "$root/etc/cloud/cloud.cfg.d"
printf '%s\\n' 'datasource_list: [NoCloud, None]' 'network: {config: disabled}' 'ssh_genkeytypes: [ed25519]' \\
  'locale: C.UTF-8' 'manage_etc_hosts: true' > "$root/etc/cloud/cloud.cfg.d/90-fleetvisor-image.cfg"
rm -f "$root"/etc/ssh/ssh_host_*
if chroot "$root" id fleetvisor >/dev/null 2>&1; then
  chroot "$root" userdel --remove fleetvisor
  rm -f "$root/etc/sudoers.d/fleetvisor"
fi
"""

NETWORK = """[Match]
Type=ether

[Network]
DHCP=ipv4
"""

# Run by mmdebstrap on the host after the packages are in, with the new root as $1. Quoted for sh.
HOOK = f"""set -e
root="$1"
echo fleetvisor-debian > "$root/etc/hostname"
printf '127.0.0.1 localhost\\n127.0.1.1 fleetvisor-debian\\n' > "$root/etc/hosts"
echo '/dev/vda / ext4 defaults 0 1' > "$root/etc/fstab"
printf '%s' '{NETWORK}' > "$root/etc/systemd/network/80-ethernet.network"
chroot "$root" systemctl enable systemd-networkd.service
rm -f "$root/etc/libvirt/qemu/networks/autostart/default.xml"
if [ -x "$root/usr/sbin/sshd" ]; then
  chroot "$root" useradd --create-home --shell /bin/bash --groups sudo {LOGIN_USER}
  echo '{LOGIN_USER} ALL=(ALL) NOPASSWD:ALL' > "$root/etc/sudoers.d/{LOGIN_USER}"
  chmod 0440 "$root/etc/sudoers.d/{LOGIN_USER}"
  install -d -m 0700 "$root/home/{LOGIN_USER}/.ssh"
  cp "$FLEETVISOR_IMAGE_KEY.pub" "$root/home/{LOGIN_USER}/.ssh/authorized_keys"
  chroot "$root" chown -R {LOGIN_USER}:{LOGIN_USER} /home/{LOGIN_USER}/.ssh
fi
"""
RECIPE_VERSION = "1"


@dataclass(frozen=True)
class DebianImage:
    # A raw ext4 file system (the whole of /dev/vda) booted with kernel and initrd, or (bootable) a qcow2
    # partitioned disk that boots by itself. Boot an overlay of it, never the file itself.
    disk: Path
    kernel: Path
    initrd: Path
    ssh_key: Path  # the private key of LOGIN_USER (when openssh-server is in the image)
    packages: tuple[str, ...]
    bootable: bool = False

    def cmdline(self) -> str:
        return BOOTABLE_CMDLINE if self.bootable else KERNEL_CMDLINE

    def as_dict(self) -> dict[str, str]:
        return {"disk": str(self.disk), "kernel": str(self.kernel), "initrd": str(self.initrd),
                "ssh_key": str(self.ssh_key), "cmdline": self.cmdline(), "login_user": LOGIN_USER}


def cache_dir() -> Path:
    return Path(os.environ.get("FLEETVISOR_GUEST_CACHE") or Path.home() / ".cache" / "fleetvisor-guest")


def cache_key(packages: Sequence[str], extra_hook: str = "", bootable: bool = False) -> str:
    layout = [BOOTABLE_CMDLINE, SYSLINUX_CFG, BOOTABLE_HOOK, str(BOOT_MIB)] if bootable else []
    recipe = "\n".join([RECIPE_VERSION, SUITE, MIRROR, DISK_SIZE, KERNEL_CMDLINE, HOOK, extra_hook, *layout,
                        *sorted(set(BASE_PACKAGES) | set(packages))])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def cloud_image(cache: Path | None = None) -> DebianImage:
    """A Debian 12 cloud image (bootable, cloud-init, openssh-server) standing in for a distribution's."""
    return build(CLOUD_PACKAGES, extra_hook=CLOUD_HOOK, cache=cache, bootable=True)


def build(packages: Sequence[str], *, extra_hook: str = "", cache: Path | None = None,
          bootable: bool = False) -> DebianImage:
    """The image for these packages, from the cache when this recipe and package set were built before.

    `extra_hook`: more sh commands for mmdebstrap's customize hook (the new root is "$root")."""
    wanted = tuple(sorted(set(BASE_PACKAGES) | set(packages)))
    out = (cache or cache_dir()) / f"{'debian12-disk' if bootable else 'debian12'}-" \
                                   f"{cache_key(packages, extra_hook, bootable)}"
    image = DebianImage(out / ("disk.qcow2" if bootable else "disk.raw"), out / "vmlinuz", out / "initrd.img",
                        out / "id_ed25519", wanted, bootable)
    if (out / "done").is_file():
        return image
    _require_tools(bootable)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fv-debian-", dir=out.parent) as scratch:
        work = Path(scratch)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetvisor-test-image", "-f",
              str(work / "id_ed25519")])
        root = work / "root"
        _mmdebstrap(root, wanted, HOOK + (BOOTABLE_HOOK if bootable else "") + extra_hook, key=work / "id_ed25519")
        _copy_boot_files(root, work)
        _run(["mkfs.ext4", "-q", "-L", ROOT_LABEL, "-d", str(root), str(work / "disk.raw"), DISK_SIZE])
        shutil.rmtree(root)
        if bootable:
            _partitioned(work, work / "disk.raw", image.disk.name)
        (work / "packages").write_text("\n".join(wanted) + "\n")
        (work / "done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        if (out / "done").is_file():
            return image  # another run built the same image meanwhile: keep its, drop ours
        if out.exists():
            shutil.rmtree(out)  # an entry without `done` is a build that did not finish
        work.rename(out)
        out.chmod(0o755)
    return image


def _require_tools(bootable: bool) -> None:
    if os.geteuid() != 0:
        raise SystemExit("building the Debian image needs root (mmdebstrap's root mode): run it as root, as CI does")
    tools = ("mmdebstrap", "mkfs.ext4", "ssh-keygen") + (
        ("mkfs.fat", "mcopy", "syslinux", "sfdisk", "qemu-img") if bootable else ())
    for tool in tools:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: scripts/setup.sh installs mmdebstrap, e2fsprogs, "
                             "openssh-client, and for a bootable disk dosfstools, mtools, syslinux, fdisk, qemu-utils")
    if bootable and not SYSLINUX_MBR.is_file():
        raise SystemExit(f"{SYSLINUX_MBR} is missing: scripts/setup.sh installs syslinux-common")


def _partitioned(work: Path, root_fs: Path, name: str) -> None:
    """`work/name`, a qcow2 disk that boots by itself: MBR (SYSLINUX's code), FAT boot partition with
    SYSLINUX, kernel and initramfs, then `root_fs` as the second partition. `root_fs` is consumed."""
    mib = 1024 * 1024
    boot, raw = work / "boot.fat", work / "partitioned.raw"
    # -h: the partition's first sector, which SYSLINUX's boot sector adds to find its own files on the disk.
    _run(["mkfs.fat", "-C", "-n", "FVBOOT", "-h", "2048", str(boot), str(BOOT_MIB * 1024)])
    (work / "syslinux.cfg").write_text(SYSLINUX_CFG)
    _run(["mcopy", "-i", str(boot), str(work / "vmlinuz"), str(work / "initrd.img"), str(work / "syslinux.cfg"),
          "::/"])
    _run(["syslinux", "--install", str(boot)])
    with raw.open("wb") as disk:
        disk.truncate((1 + BOOT_MIB) * mib + root_fs.stat().st_size)
    table = (f"label: dos\nstart=2048, size={BOOT_MIB * 2048}, type=c, bootable\n"
             f"start={(1 + BOOT_MIB) * 2048}, type=83\n")
    _run(["sfdisk", "--quiet", str(raw)], stdin=table)
    _run(["dd", f"if={boot}", f"of={raw}", "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"])
    _run(["dd", f"if={root_fs}", f"of={raw}", "bs=1M", f"seek={1 + BOOT_MIB}", "conv=notrunc,sparse",
          "status=none"])
    _run(["dd", f"if={SYSLINUX_MBR}", f"of={raw}", "bs=440", "count=1", "conv=notrunc", "status=none"])
    _run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(work / name)])
    for made in (boot, raw, root_fs, work / "syslinux.cfg"):
        made.unlink()


def _mmdebstrap(root: Path, packages: Sequence[str], hook: str, *, key: Path) -> None:
    argv = ["mmdebstrap", "--quiet", "--mode=root", "--variant=apt", f"--include={','.join(packages)}",
            "--aptopt=Acquire::Languages \"none\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            f"--customize-hook={hook}", SUITE, str(root), MIRROR]
    env = {**os.environ, "FLEETVISOR_IMAGE_KEY": str(key), "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mmdebstrap failed ({done.returncode}):\n{done.stderr.strip()[-4000:]}")


def _copy_boot_files(root: Path, out: Path) -> None:
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if len(kernels) != 1 or len(initrds) != 1:
        raise SystemExit(f"expected one kernel and one initramfs in the image's /boot, found {kernels} {initrds}")
    shutil.copyfile(kernels[0], out / "vmlinuz")
    shutil.copyfile(initrds[0], out / "initrd.img")


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, input=stdin)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.strip()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--package", action="append", default=[], help="a package to install (repeat)")
    parser.add_argument("--cloud", action="store_true", help="the cloud-init image (cloud_image()) instead")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--cache", type=Path, help="cache directory (default $FLEETVISOR_GUEST_CACHE or "
                        "~/.cache/fleetvisor-guest)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    image = cloud_image(args.cache) if args.cloud else build(args.package, cache=args.cache)
    seconds = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps({**image.as_dict(), "seconds": seconds}))
    else:
        print("\n".join(f"{k:8} {v}" for k, v in image.as_dict().items()) + f"\n({seconds} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
