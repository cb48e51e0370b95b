#!/usr/bin/env python3
"""Build the tiny Linux guest the real-QEMU tests boot: Debian's kernel and busybox, nothing else.

    python3 scripts/guest/build.py          # prints the kernel and initramfs paths
    python3 scripts/guest/build.py --json   # the same as {"kernel": ..., "initrd": ..., "kernel_package": ...}

What it does, in a few seconds: `apt-get download` the kernel package that
`linux-image-amd64` depends on and `busybox-static` into the cache, unpack both
with `dpkg-deb -x`, and pack an initramfs (`cpio -H newc`, gzip) holding the
static busybox, the kernel's own `evdev.ko` and `button.ko` (decompressed with
`xz -d` when the package ships them as .ko.xz) and the /init below. The guest
boots by direct kernel boot (`console=ttyS0`), loads the two modules so that
ACPI's power button becomes an input event, starts busybox `acpid` (which runs
/etc/acpi/PWRF/00000080, i.e. `poweroff -f`, when the button is pressed),
waits until acpid holds the button's event device (a press before that would
be lost), prints FLEETVISOR-GUEST-READY on the serial console and runs a
shell there.
With `fleetvisor.acpid=off` on the kernel command line acpid is not started:
that guest ignores an ACPI shutdown request, as a hung or unconfigured guest
would. With `fleetvisor.firstboot=nginx:0,app:2` it then asks for a DHCP lease
on its e1000e NIC (the module is shipped for that) and prints the lines a
vm.deploy first-boot runner prints (`FLEETVISOR-FIRST-BOOT installer=nginx
exit=0`, …, `FLEETVISOR-FIRST-BOOT done`), for the first-boot watcher's test.

Idempotent: the result is cached under $FLEETVISOR_GUEST_CACHE (default
~/.cache/fleetvisor-guest) in a directory named after the kernel package and
its version, and rebuilt only when that version, busybox's version or this
recipe changes. Needs apt-get, dpkg-deb, cpio and xz (Debian packages `apt`,
`dpkg`, `cpio`, `xz-utils`); no root, no network beyond the Debian mirror.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

KERNEL_META = "linux-image-amd64"
BUSYBOX = "busybox-static"
READY_MARKER = "FLEETVISOR-GUEST-READY"
MODULES = ("evdev", "button")  # the power button's input device and the ACPI button driver
NIC_MODULE = "e1000e"  # shipped, loaded only for fleetvisor.firstboot (the deployed VM's NIC model there)

INIT = f"""#!/bin/busybox sh
# The kernel starts us without stdio when the initramfs has no /dev/console: mount devtmpfs first.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for module in {' '.join(MODULES)}; do insmod /lib/modules/$module.ko || echo "fleetvisor: insmod $module failed"; done
if grep -qw fleetvisor.acpid=off /proc/cmdline; then
  echo "fleetvisor: acpid not started; this guest ignores the ACPI power button"
else
  # Ready means acpid holds the power button's event device: a press before that would be lost.
  acpid -f -l /var/log/acpid.log &
  waited=0
  until ls -l /proc/$!/fd 2>/dev/null | grep -q /dev/input/event; do
    waited=$((waited + 1))
    if [ $waited -gt 300 ]; then echo "fleetvisor: acpid did not open an input device"; break; fi
    sleep 0.1
  done
fi
echo {READY_MARKER}
# vm.deploy's first-boot watcher, tested for real: fleetvisor.firstboot=nginx:0,app:2 prints what a
# first-boot runner would (one exit line per installer, then done).
firstboot=$(sed -n 's/.*fleetvisor.firstboot=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$firstboot" ]; then
  # A lease from the VM's libvirt network, so vm.deploy can report the address it got (the address is
  # not configured: the lease is what the host sees).
  insmod /lib/modules/{NIC_MODULE}.ko && ip link set eth0 up && udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/true
  for item in $(echo "$firstboot" | tr , ' '); do
    echo "FLEETVISOR-FIRST-BOOT installer=${{item%%:*}} exit=${{item#*:}}"
  done
  echo "FLEETVISOR-FIRST-BOOT done"
fi
exec setsid cttyhack sh
"""

# busybox acpid maps the power button (KEY_POWER) to "PWRF/00000080" and runs that path under /etc/acpi.
POWER_BUTTON_HANDLER = """#!/bin/sh
echo "fleetvisor: power button pressed, powering off"
exec poweroff -f
"""
RECIPE = hashlib.sha256((INIT + POWER_BUTTON_HANDLER + "v1").encode()).hexdigest()[:12]


@dataclass(frozen=True)
class GuestImage:
    kernel: Path
    initrd: Path
    kernel_package: str

    def as_dict(self) -> dict[str, str]:
        return {"kernel": str(self.kernel), "initrd": str(self.initrd), "kernel_package": self.kernel_package}


def cache_dir() -> Path:
    return Path(os.environ.get("FLEETVISOR_GUEST_CACHE") or Path.home() / ".cache" / "fleetvisor-guest")


def build(cache: Path | None = None) -> GuestImage:
    """The kernel and initramfs, from the cache when this kernel, busybox and recipe were built before."""
    cache = cache or cache_dir()
    kernel_package = _kernel_package()
    packages = {kernel_package: _candidate_version(kernel_package), BUSYBOX: _candidate_version(BUSYBOX)}
    key = f"{kernel_package}_{packages[kernel_package]}".replace(":", "_")
    out = cache / key
    stamp = f"{packages[BUSYBOX]} {RECIPE}"
    image = GuestImage(out / "vmlinuz", out / "initrd.img", f"{kernel_package} {packages[kernel_package]}")
    if (out / "stamp").is_file() and (out / "stamp").read_text() == stamp:
        return image
    debs = _download(cache / "debs", packages)
    with tempfile.TemporaryDirectory(prefix="fv-guest-") as scratch:
        _assemble(Path(scratch), debs, out)
    (out / "stamp").write_text(stamp)
    return image


def _kernel_package() -> str:
    """The versioned kernel package that linux-image-amd64 currently depends on."""
    depends = _run(["apt-cache", "depends", KERNEL_META])
    match = re.search(r"Depends: (linux-image-[0-9][\w.+-]*)", depends)
    if match is None:
        raise SystemExit(f"cannot tell which kernel {KERNEL_META} depends on:\n{depends}")
    return match.group(1)


def _candidate_version(package: str) -> str:
    match = re.search(r"Candidate: (\S+)", _run(["apt-cache", "policy", package]))
    if match is None or match.group(1) == "(none)":
        raise SystemExit(f"no installable version of {package}: run apt-get update")
    return match.group(1)


def _download(debs: Path, packages: dict[str, str]) -> dict[str, Path]:
    debs.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for package, version in packages.items():
        pattern = f"{package}_{version.replace(':', '%3a')}_*.deb"
        existing = sorted(debs.glob(pattern))
        if not existing:
            # As root, apt drops to the _apt user, which may not write here; the download is the same.
            sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
            _run(["apt-get", "download", "-q", *sandbox, f"{package}={version}"], cwd=debs)
            existing = sorted(debs.glob(pattern))
        if not existing:
            raise SystemExit(f"apt-get download {package}={version} left no .deb in {debs}")
        found[package] = existing[0]
    return found


def _assemble(scratch: Path, debs: dict[str, Path], out: Path) -> None:
    unpacked, root = scratch / "unpacked", scratch / "root"
    for deb in debs.values():
        _run(["dpkg-deb", "-x", str(deb), str(unpacked)])
    for directory in ("bin", "dev", "proc", "sys", "tmp", "root", "lib/modules", "etc/acpi/PWRF", "var/log",
                      "var/run", "sbin", "usr/bin", "usr/sbin"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(unpacked / "bin" / "busybox", root / "bin" / "busybox")
    for module in (*MODULES, NIC_MODULE):
        _copy_module(unpacked, module, root / "lib" / "modules" / f"{module}.ko")
    _write_executable(root / "init", INIT)
    _write_executable(root / "etc" / "acpi" / "PWRF" / "00000080", POWER_BUTTON_HANDLER)
    out.mkdir(parents=True, exist_ok=True)
    [vmlinuz] = sorted((unpacked / "boot").glob("vmlinuz-*"))
    shutil.copyfile(vmlinuz, out / "vmlinuz")
    (out / "initrd.img").write_bytes(gzip.compress(_cpio(root), compresslevel=6))


def _copy_module(unpacked: Path, name: str, target: Path) -> None:
    """The module from the kernel package (button.ko lives in drivers/acpi, evdev.ko in drivers/input)."""
    candidates = (sorted(unpacked.glob(f"lib/modules/*/kernel/drivers/*/{name}.ko*"))
                  or sorted(unpacked.glob(f"lib/modules/*/kernel/drivers/**/{name}.ko*")))
    if not candidates:
        raise SystemExit(f"the kernel package has no {name}.ko")
    source = candidates[0]
    if source.suffix == ".xz":
        shutil.copyfile(source, target.with_suffix(".ko.xz"))
        _run(["xz", "-d", "-f", str(target.with_suffix(".ko.xz"))])
    elif source.suffix == ".ko":
        shutil.copyfile(source, target)
    else:
        raise SystemExit(f"cannot unpack {source.name}: only .ko and .ko.xz are handled")


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _cpio(root: Path) -> bytes:
    """The tree as a newc archive, every file owned by root whoever builds it."""
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    listing = "\n".join(names).encode() + b"\n"
    done = subprocess.run(["cpio", "--quiet", "-H", "newc", "-o", "-R", "0:0"], input=listing, cwd=root,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"cpio failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _run(argv: list[str], cwd: Path | None = None) -> str:
    if shutil.which(argv[0]) is None:
        raise SystemExit(f"{argv[0]} is not installed (apt-get install cpio xz-utils apt dpkg)")
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.strip()}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--cache", type=Path, help="cache directory (default $FLEETVISOR_GUEST_CACHE or "
                        "~/.cache/fleetvisor-guest)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    image = build(args.cache)
    if args.json:
        print(json.dumps({**image.as_dict(), "seconds": round(time.monotonic() - started, 2)}))
    else:
        print(f"kernel  {image.kernel}\ninitrd  {image.initrd}\n({image.kernel_package}, "
              f"{time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
