"""One VM (a libvirt domain) and what an operator may do to it.

Domain states and libvirt errors are translated here, through the two tables
below, into the names and codes the protocol promises. Each operation first
checks that it applies to the VM's current state, because libvirt drivers
disagree about what starting a running VM or resuming an unpaused one means
(QEMU resumes a running VM silently, the test driver reports an internal
error); the operator gets the same clear answer from every driver. libvirt's
own error still decides when the state changes between the check and the call.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

import libvirt

from .errors import (
    HYPERVISOR_ERROR,
    HYPERVISOR_TIMEOUT,
    HYPERVISOR_UNAVAILABLE,
    INVALID_REQUEST,
    INVALID_STATE,
    PERMISSION_DENIED,
    UNSUPPORTED,
    VM_NOT_FOUND,
    HypervisorError,
)

T = TypeVar("T")

STATES: dict[int, str] = {
    libvirt.VIR_DOMAIN_NOSTATE: "nostate",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}

# libvirt error code → (our code, transient?). Codes not listed become hypervisor_error.
ERRORS: dict[int, tuple[str, bool]] = {
    libvirt.VIR_ERR_NO_DOMAIN: (VM_NOT_FOUND, False),
    libvirt.VIR_ERR_OPERATION_INVALID: (INVALID_STATE, False),
    libvirt.VIR_ERR_OPERATION_DENIED: (PERMISSION_DENIED, False),
    libvirt.VIR_ERR_ACCESS_DENIED: (PERMISSION_DENIED, False),
    libvirt.VIR_ERR_AUTH_FAILED: (PERMISSION_DENIED, False),
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: (UNSUPPORTED, False),
    libvirt.VIR_ERR_NO_SUPPORT: (UNSUPPORTED, False),
    libvirt.VIR_ERR_INVALID_ARG: (INVALID_REQUEST, False),
    libvirt.VIR_ERR_NO_CONNECT: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_INVALID_CONN: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_RPC: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_SYSTEM_ERROR: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_OPERATION_TIMEOUT: (HYPERVISOR_TIMEOUT, True),
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE: (HYPERVISOR_TIMEOUT, True),
}

MESSAGES: dict[str, str] = {
    VM_NOT_FOUND: "No such VM on this host.",
    INVALID_STATE: "The VM is not in a state that allows this operation.",
    PERMISSION_DENIED: "libvirt refused the operation.",
    UNSUPPORTED: "This hypervisor does not support the operation.",
    INVALID_REQUEST: "libvirt refused the request as invalid.",
    HYPERVISOR_UNAVAILABLE: "The hypervisor (libvirtd) is not reachable.",
    HYPERVISOR_TIMEOUT: "The hypervisor did not answer in time.",
    HYPERVISOR_ERROR: "The hypervisor reported an error.",
}

# Completes "Cannot start VM 'web1': …" for each state.
DESCRIBE: dict[str, str] = {
    "running": "it is running",
    "blocked": "it is running (blocked)",
    "paused": "it is paused",
    "shutdown": "it is shutting down",
    "shutoff": "it is not running (shut off)",
    "crashed": "it has crashed",
    "pmsuspended": "it is suspended by its guest OS",
    "nostate": "its state is unknown",
}
ACTIVE = frozenset({"running", "blocked", "paused", "shutdown", "pmsuspended"})


def state_name(code: int) -> str:
    return STATES.get(code, "nostate")


def translate_error(exc: libvirt.libvirtError, vm: str | None = None) -> HypervisorError:
    """A libvirtError as a stable code and a message naming the VM; libvirt's own words are kept after it."""
    code, transient = ERRORS.get(exc.get_error_code() or 0, (HYPERVISOR_ERROR, False))
    subject = f"VM {vm}: " if vm else ""
    detail = exc.get_error_message() or str(exc)
    return HypervisorError(code, f"{subject}{MESSAGES[code]} ({detail})", transient=transient)


def is_connection_error(exc: libvirt.libvirtError) -> bool:
    return ERRORS.get(exc.get_error_code() or 0, ("", False))[0] == HYPERVISOR_UNAVAILABLE


class Guest:
    """A domain plus the translated view of it; every public method raises HypervisorError only."""

    def __init__(self, domain: libvirt.virDomain) -> None:
        self._domain = domain
        self.uuid: str = domain.UUIDString()
        self.name: str = domain.name()

    def state(self) -> str:
        return state_name(self._call(lambda: self._domain.state()[0]))

    def summary(self) -> dict[str, str]:
        """{uuid, name, state} as `complete.vm` and the result document want it."""
        return {"uuid": self.uuid, "name": self.name, "state": self.state()}

    def inventory_entry(self) -> dict[str, Any]:
        state, max_memory_kib, _memory, vcpus, _cpu_time = self._call(self._domain.info)
        return {"uuid": self.uuid, "name": self.name, "state": state_name(state),
                "vcpus": vcpus, "memory_kib": max_memory_kib}

    def start(self) -> None:
        self._require({"shutoff", "crashed"}, "start")
        self._call(self._domain.create)

    def shutdown(self) -> None:
        """Ask the guest OS to power off (ACPI); it may take a while, or be ignored."""
        self._require({"running", "blocked"}, "shut down")
        self._call(self._domain.shutdown)

    def force_stop(self) -> None:
        self._require(ACTIVE | {"crashed"}, "force-stop")
        self._call(self._domain.destroy)

    def reboot(self) -> None:
        self._require({"running", "blocked"}, "reboot")
        self._call(lambda: self._domain.reboot(0))

    def suspend(self) -> None:
        self._require({"running", "blocked"}, "suspend")
        self._call(self._domain.suspend)

    def resume(self) -> None:
        self._require({"paused"}, "resume")
        self._call(self._domain.resume)

    def _require(self, allowed: Collection[str], verb: str) -> None:
        state = self.state()
        if state not in allowed:
            raise HypervisorError(INVALID_STATE, f"Cannot {verb} VM {self.name!r}: {DESCRIBE[state]}.")

    def _call(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except libvirt.libvirtError as exc:
            raise translate_error(exc, repr(self.name)) from exc
