"""One VM (a libvirt domain) and what an operator may do to it.

Each operation first checks that it applies to the VM's current state, because
libvirt drivers disagree about what starting a running VM or suspending a
paused one means (QEMU suspends a paused VM silently and reboots a paused one,
the test driver reports internal errors); the operator gets the same clear
answer from every driver. libvirt's own error still decides when the state
changes between the check and the call: it goes through the tables in
translate.py, and an error those cannot place is re-judged against the state
the VM is in by then.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Any, TypeVar

import libvirt

from . import detail, storage
from .console import SerialConsole
from .errors import HYPERVISOR_ERROR, INVALID_STATE, OPERATION_UNSUPPORTED, VM_NOT_FOUND, HypervisorError
from .snapshots import Snapshots
from .translate import ACTIVE, DESCRIBE, reason_name, state_name, translate_error

T = TypeVar("T")

RUNNING = frozenset({"running", "blocked"})
# A driver that cannot choose how to shut down or reboot (the test driver) refuses the ACPI flag as
# unsupported: it gets the request without a method, which is all it can do anyway.
METHOD_REFUSED = frozenset({libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT,
                            libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED})
STATE_POLL_SECONDS = 0.25


class Guest:
    """A domain plus the translated view of it; every public method raises HypervisorError only."""

    def __init__(self, domain: libvirt.virDomain, *, started_at: float | None = None) -> None:
        self._domain = domain
        self._started_at = started_at
        self.uuid: str = domain.UUIDString()
        self.name: str = domain.name()

    # -- reading -----------------------------------------------------------------------------------

    def state(self) -> str:
        return state_name(self._call(lambda: self._domain.state(0)[0]))

    def inventory_entry(self) -> dict[str, Any]:
        """The VM as heartbeats and `complete.vm` report it (docs/protocol.md, VM inventory entries)."""
        state, reason = self._call(lambda: self._domain.state(0))
        _state, max_memory_kib, _memory, vcpus, _cpu_time = self._call(self._domain.info)
        return {"uuid": self.uuid, "name": self.name, "state": state_name(state),
                "state_reason": reason_name(state, reason), "vcpus": vcpus, "memory_kib": max_memory_kib,
                "autostart": bool(self._call(self._domain.autostart)),
                "persistent": bool(self._call(self._domain.isPersistent)), "addresses": self._addresses()}

    def _addresses(self) -> list[str]:
        """What the host knows of the VM's IP addresses (detail.HOST_SOURCES), for the fleet list."""
        if not self._call(self._domain.isActive):
            return []
        found = self._call(lambda: detail.addresses(self._domain, detail.HOST_SOURCES))
        return sorted({entry["address"] for entry in found})[:32]

    def detail(self) -> dict[str, Any]:
        """vm.detail's object: the inventory entry plus disks, NICs, IPs, memory, CPU time and uptime."""
        entry = self.inventory_entry()
        return self._call(lambda: detail.describe(self._domain, entry, self._started_at))

    def snapshots(self) -> Snapshots:
        return Snapshots(self._domain, self.name)

    # -- power -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._act({"shutoff"}, "start", self._domain.create)

    def shutdown(self) -> None:
        """Press the (virtual) power button (ACPI); the guest OS may take a while, or ignore it."""
        self._act(RUNNING, "shut down",
                  lambda: _with_method(self._domain.shutdownFlags, libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN))

    def force_stop(self) -> None:
        self._act(ACTIVE | {"crashed"}, "force-stop", self._domain.destroy)

    def reboot(self) -> None:
        """ACPI reboot: on QEMU, libvirt lets the guest power off and then starts it again in place."""
        self._act(RUNNING, "reboot",
                  lambda: _with_method(self._domain.reboot, libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN))

    def reset(self) -> None:
        """Hard reset, like the reset button: no word to the guest OS."""
        self._act(RUNNING, "reset", lambda: self._domain.reset(0))

    def suspend(self) -> None:
        self._act(RUNNING, "suspend", self._domain.suspend)

    def resume(self) -> None:
        self._act({"paused"}, "resume", self._domain.resume)

    def wait_until_stopped(self, timeout: float, cancelled: threading.Event | None = None) -> bool:
        """True once the VM is no longer active (or gone, if it was transient) within `timeout` seconds.

        False when the time is up, or at once when `cancelled` is set.
        """
        deadline = time.monotonic() + timeout
        cancelled = cancelled or threading.Event()
        while True:
            try:
                if self.state() not in ACTIVE:
                    return True
            except HypervisorError as exc:
                if exc.code == VM_NOT_FOUND:
                    return True
                raise
            if time.monotonic() >= deadline or cancelled.is_set():
                return False
            if cancelled.wait(min(STATE_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
                return False

    # -- configuration -----------------------------------------------------------------------------

    def set_autostart(self, autostart: bool) -> None:
        if not self._call(self._domain.isPersistent):
            raise HypervisorError(INVALID_STATE, f"Cannot set autostart of VM {self.name!r}: it is transient "
                                                 "(not defined on this host), so the host could not start it.")
        self._call(lambda: self._domain.setAutostart(1 if autostart else 0))

    def resize(self, *, vcpus: int | None, memory_mib: int | None, disks: Mapping[str, int]) -> dict[str, Any]:
        """Change vCPUs and memory (the VM's definition: at its next boot if it runs) and grow disks (at once,
        a running VM's through QEMU so its guest sees the new size): what changed, and when it applies."""
        capacities = {target: self._disk_capacity(target) for target in disks}
        for target, size in disks.items():
            if size < capacities[target]:
                raise HypervisorError(OPERATION_UNSUPPORTED, f"VM {self.name!r}: disk {target} is "
                                                             f"{capacities[target]} bytes; disks only grow.")
        active = bool(self._call(self._domain.isActive))
        defined = ET.fromstring(self._call(lambda: self._domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
        if vcpus is not None:
            self._set_config(vcpus, self._domain.setVcpusFlags, libvirt.VIR_DOMAIN_VCPU_MAXIMUM,
                             int(defined.findtext("vcpu") or 1))
        if memory_mib is not None:  # <memory> is the maximum, in KiB
            self._set_config(memory_mib * 1024, self._domain.setMemoryFlags, libvirt.VIR_DOMAIN_MEM_MAXIMUM,
                             int(defined.findtext("memory") or 0))
        grown = []
        for target, size in disks.items():
            if size > capacities[target]:
                self._grow(target, size, active)
                grown.append({"target": target, "from_bytes": capacities[target], "to_bytes": size})
        return {"applies": "next_boot" if active and (vcpus or memory_mib) else "now", "disks": grown}

    def _set_config(self, value: int, setter: Callable[[int, int], object], maximum: int, current: int) -> None:
        """Set a count in the definition and its maximum, in the order libvirt accepts (the maximum first when
        it grows, last when it shrinks)."""
        config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        steps = [config | maximum, config] if value >= current else [config, config | maximum]
        for flags in steps:
            self._call(partial(setter, value, flags))

    def _disk_capacity(self, target: str) -> int:
        try:
            return int(self._domain.blockInfo(target, 0)[0])
        except libvirt.libvirtError as exc:
            raise HypervisorError(OPERATION_UNSUPPORTED, f"VM {self.name!r} has no disk {target} that can be "
                                                         f"measured ({exc.get_error_message()}).") from exc

    def _grow(self, target: str, size: int, active: bool) -> None:
        if active:
            self._call(lambda: self._domain.blockResize(target, size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES))
            return
        conn = self._domain.connect()
        volumes, _kept = self._call(lambda: storage.disk_volumes(conn, self._domain.XMLDesc(0)))
        volume = next((item for item in volumes if item.target == target), None)
        if volume is None:
            raise HypervisorError(OPERATION_UNSUPPORTED, f"VM {self.name!r}: disk {target} is not a storage pool "
                                                         "volume, so it can be grown only while the VM runs.")
        self._call(lambda: volume.handle.resize(size, 0))

    def delete(self, *, with_storage: bool) -> tuple[list[str], list[str]]:
        """Undefine a stopped VM, and with `with_storage` its pool volumes: (volumes deleted, disks kept)."""
        if self._call(self._domain.isActive):
            raise HypervisorError(INVALID_STATE, f"Cannot delete VM {self.name!r}: {DESCRIBE[self.state()]}. "
                                                 "Stop it first.")
        volumes: list[storage.Volume] = []
        kept: list[storage.KeptDisk] = []
        if with_storage:
            conn = self._domain.connect()
            volumes, kept = self._call(lambda: storage.disk_volumes(conn, self._domain.XMLDesc(0)))
        self._call(lambda: self._domain.undefineFlags(self._undefine_flags(with_storage)))
        if self._still_active():
            raise HypervisorError(INVALID_STATE, f"VM {self.name!r} was started while it was being deleted; it "
                                                 "runs on as a transient VM, and its disks were kept.")
        return storage.delete_volumes(volumes, self.name), [disk.label() for disk in kept]

    # -- helpers -----------------------------------------------------------------------------------

    def _undefine_flags(self, with_storage: bool) -> int:
        """What to do with what libvirt will not undefine silently.

        Snapshot metadata and a managed save image are dropped (useless without the VM); the UEFI variables
        (NVRAM) go only with the storage.
        """
        flags = 0
        if _supported_count(lambda: self._domain.snapshotNum(0)) > 0:
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        if self._domain.hasManagedSaveImage(0):
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        if ET.fromstring(self._domain.XMLDesc(0)).find("os/nvram") is not None:
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_NVRAM if with_storage else libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
        return flags

    def _still_active(self) -> bool:
        try:
            return bool(self._domain.isActive())
        except libvirt.libvirtError:
            return False  # gone: it was not running

    def _act(self, allowed: Collection[str], verb: str, operation: Callable[[], object]) -> None:
        self._require(allowed, verb)
        try:
            operation()
        except libvirt.libvirtError as exc:
            error = translate_error(exc, repr(self.name))
            if error.code == HYPERVISOR_ERROR:
                self._require(allowed, verb)  # the test driver reports state mistakes as internal errors
            raise error from exc

    def _require(self, allowed: Collection[str], verb: str) -> None:
        state = self.state()
        if state not in allowed:
            raise HypervisorError(INVALID_STATE, f"Cannot {verb} VM {self.name!r}: {DESCRIBE[state]}.")

    def open_console(self) -> SerialConsole:
        """The VM's serial console as a byte stream (HypervisorError console_busy if someone holds it)."""
        return SerialConsole.open(self._call(self._domain.connect), self._domain)

    def _call(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except libvirt.libvirtError as exc:
            raise translate_error(exc, repr(self.name)) from exc


def _supported_count(count: Callable[[], int]) -> int:
    """A count a driver may not support at all (snapshots on LXC): then there is nothing to count."""
    try:
        return count()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in METHOD_REFUSED:
            return 0
        raise


def _with_method(call: Callable[[int], object], method: int) -> None:
    try:
        call(method)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in METHOD_REFUSED:
            raise
        call(0)
