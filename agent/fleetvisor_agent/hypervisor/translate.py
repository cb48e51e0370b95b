"""libvirt's numbers in the protocol's words: domain states, their reasons, and errors, each through one table.

Drivers disagree about how they report the same mistake. Starting a running VM
is VIR_ERR_OPERATION_INVALID on QEMU and VIR_ERR_INTERNAL_ERROR on the test
driver; an internal snapshot of a VM whose disks cannot hold one is
VIR_ERR_CONFIG_UNSUPPORTED on QEMU and simply works on the test driver; asking
for the ACPI method of a shutdown is accepted by QEMU and refused by the test
driver as VIR_ERR_INVALID_ARG ("unsupported flags"). Codes that mean the same
thing map to one stable code here; an internal error is re-judged against the
VM's state by guest.py, because the code alone cannot tell a state mistake from
a real failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import libvirt

from .errors import (
    HYPERVISOR_ERROR,
    HYPERVISOR_UNAVAILABLE,
    INVALID_STATE,
    OPERATION_DENIED,
    OPERATION_TIMEOUT,
    OPERATION_UNSUPPORTED,
    SNAPSHOT_NOT_FOUND,
    STORAGE_ERROR,
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

# Why a VM is in its state: libvirt's reason constants, per state, as lowercase words joined by "_".
REASONS: dict[int, dict[int, str]] = {
    libvirt.VIR_DOMAIN_RUNNING: {
        libvirt.VIR_DOMAIN_RUNNING_BOOTED: "booted",
        libvirt.VIR_DOMAIN_RUNNING_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_RUNNING_RESTORED: "restored",
        libvirt.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_RUNNING_UNPAUSED: "unpaused",
        libvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED: "migration_canceled",
        libvirt.VIR_DOMAIN_RUNNING_SAVE_CANCELED: "save_canceled",
        libvirt.VIR_DOMAIN_RUNNING_WAKEUP: "wakeup",
        libvirt.VIR_DOMAIN_RUNNING_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_RUNNING_POSTCOPY: "postcopy",
    },
    libvirt.VIR_DOMAIN_PAUSED: {
        libvirt.VIR_DOMAIN_PAUSED_USER: "user",
        libvirt.VIR_DOMAIN_PAUSED_MIGRATION: "migration",
        libvirt.VIR_DOMAIN_PAUSED_SAVE: "save",
        libvirt.VIR_DOMAIN_PAUSED_DUMP: "dump",
        libvirt.VIR_DOMAIN_PAUSED_IOERROR: "ioerror",
        libvirt.VIR_DOMAIN_PAUSED_WATCHDOG: "watchdog",
        libvirt.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_PAUSED_SHUTTING_DOWN: "shutting_down",
        libvirt.VIR_DOMAIN_PAUSED_SNAPSHOT: "snapshot",
        libvirt.VIR_DOMAIN_PAUSED_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_PAUSED_STARTING_UP: "starting_up",
        libvirt.VIR_DOMAIN_PAUSED_POSTCOPY: "postcopy",
        libvirt.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED: "postcopy_failed",
    },
    libvirt.VIR_DOMAIN_SHUTDOWN: {libvirt.VIR_DOMAIN_SHUTDOWN_USER: "user"},
    libvirt.VIR_DOMAIN_SHUTOFF: {
        libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN: "shutdown",
        libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED: "destroyed",
        libvirt.VIR_DOMAIN_SHUTOFF_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_SHUTOFF_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_SHUTOFF_SAVED: "saved",
        libvirt.VIR_DOMAIN_SHUTOFF_FAILED: "failed",
        libvirt.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_SHUTOFF_DAEMON: "daemon",
    },
    libvirt.VIR_DOMAIN_CRASHED: {libvirt.VIR_DOMAIN_CRASHED_PANICKED: "panicked"},
}

# libvirt error code → (our code, transient?). Codes not listed become the caller's fallback (hypervisor_error).
# tests/libvirt_errors.py makes each entry happen for real on the test driver and on QEMU, except these,
# which neither driver raises in those tests (kept because a production host can): SNAPSHOT_REVERT_RISKY
# (a revert after the VM's definition changed), INVALID_DOMAIN_SNAPSHOT, INVALID_STORAGE_POOL and
# INVALID_STORAGE_VOL (invalid handles; stale ones answer NO_*), ACCESS_DENIED and AUTH_FAILED (libvirtd with
# ACLs or authentication), OPERATION_UNSUPPORTED, OPERATION_TIMEOUT (QEMU's 30 s wait for another job on the
# VM), AGENT_UNSYNCED (a real guest agent out of step), RPC (libvirtd breaking the protocol), and
# STORAGE_PROBE_FAILED and STORAGE_POOL_BUILT (disk and logical pools).
ERRORS: dict[int, tuple[str, bool]] = {
    libvirt.VIR_ERR_NO_DOMAIN: (VM_NOT_FOUND, False),
    libvirt.VIR_ERR_OPERATION_INVALID: (INVALID_STATE, False),
    libvirt.VIR_ERR_SNAPSHOT_REVERT_RISKY: (INVALID_STATE, False),
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT: (SNAPSHOT_NOT_FOUND, False),
    libvirt.VIR_ERR_INVALID_DOMAIN_SNAPSHOT: (SNAPSHOT_NOT_FOUND, False),  # deleted while we held it
    libvirt.VIR_ERR_OPERATION_DENIED: (OPERATION_DENIED, False),
    libvirt.VIR_ERR_ACCESS_DENIED: (OPERATION_DENIED, False),
    libvirt.VIR_ERR_AUTH_FAILED: (OPERATION_DENIED, False),
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: (OPERATION_UNSUPPORTED, False),
    libvirt.VIR_ERR_NO_SUPPORT: (OPERATION_UNSUPPORTED, False),
    libvirt.VIR_ERR_CONFIG_UNSUPPORTED: (OPERATION_UNSUPPORTED, False),  # QEMU: this VM's disks cannot do it
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED: (OPERATION_UNSUPPORTED, False),  # QEMU: no guest agent configured
    libvirt.VIR_ERR_OPERATION_TIMEOUT: (OPERATION_TIMEOUT, True),
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE: (OPERATION_TIMEOUT, True),
    libvirt.VIR_ERR_AGENT_UNSYNCED: (OPERATION_TIMEOUT, True),
    libvirt.VIR_ERR_NO_CONNECT: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_INVALID_CONN: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_RPC: (HYPERVISOR_UNAVAILABLE, True),
    libvirt.VIR_ERR_NO_STORAGE_POOL: (STORAGE_ERROR, False),
    libvirt.VIR_ERR_NO_STORAGE_VOL: (STORAGE_ERROR, False),
    libvirt.VIR_ERR_INVALID_STORAGE_POOL: (STORAGE_ERROR, False),
    libvirt.VIR_ERR_INVALID_STORAGE_VOL: (STORAGE_ERROR, False),
    libvirt.VIR_ERR_STORAGE_PROBE_FAILED: (STORAGE_ERROR, False),
    libvirt.VIR_ERR_STORAGE_POOL_BUILT: (STORAGE_ERROR, False),
    libvirt.VIR_ERR_STORAGE_VOL_EXIST: (STORAGE_ERROR, False),
}
# A system or internal error raised by the client's own transport (not relayed from libvirtd) is a dead
# connection; the same codes from a driver (a failed unlink, say) are that driver's failure.
CONNECTION_ERROR_SOURCES = frozenset({libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE})
CONNECTION_ERROR_CODES = frozenset({libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_INTERNAL_ERROR})

MESSAGES: dict[str, str] = {
    VM_NOT_FOUND: "No such VM on this host.",
    INVALID_STATE: "The VM is not in a state that allows this operation.",
    SNAPSHOT_NOT_FOUND: "No such snapshot.",
    OPERATION_DENIED: "libvirt refused the operation.",
    OPERATION_UNSUPPORTED: "This hypervisor or this VM's configuration does not support the operation.",
    OPERATION_TIMEOUT: "The hypervisor did not answer in time.",
    HYPERVISOR_UNAVAILABLE: "The hypervisor (libvirtd) is not reachable.",
    STORAGE_ERROR: "A storage operation failed.",
    HYPERVISOR_ERROR: "The hypervisor reported an error.",
}

# Completes "Cannot start VM 'web1': …" for each state.
DESCRIBE: dict[str, str] = {
    "running": "it is running",
    "blocked": "it is running (blocked)",
    "paused": "it is paused",
    "shutdown": "it is shutting down",
    "shutoff": "it is not running (shut off)",
    "crashed": "it has crashed and is still loaded; force-stop it first",
    "pmsuspended": "it is suspended by its guest OS",
    "nostate": "its state is unknown",
}
ACTIVE = frozenset({"running", "blocked", "paused", "shutdown", "pmsuspended"})


def state_name(code: int) -> str:
    return STATES.get(code, "nostate")


def reason_name(state: int, reason: int) -> str:
    return REASONS.get(state, {}).get(reason, "unknown")


def translate_error(exc: libvirt.libvirtError, vm: str | None = None, *,
                    fallback: str = HYPERVISOR_ERROR) -> HypervisorError:
    """A libvirtError as a stable code and a message naming the VM; libvirt's own words are kept after it."""
    if is_connection_error(exc):
        code, transient = HYPERVISOR_UNAVAILABLE, True
    else:
        code, transient = ERRORS.get(exc.get_error_code() or 0, (fallback, False))
    subject = f"VM {vm}: " if vm else ""
    detail = exc.get_error_message() or str(exc)
    return HypervisorError(code, f"{subject}{MESSAGES[code]} ({detail})", transient=transient)


def is_connection_error(exc: libvirt.libvirtError) -> bool:
    code = exc.get_error_code() or 0
    if code in CONNECTION_ERROR_CODES:
        return exc.get_error_domain() in CONNECTION_ERROR_SOURCES
    return ERRORS.get(code, ("", False))[0] == HYPERVISOR_UNAVAILABLE


def call(operation: Callable[[], T], vm: str | None = None, *, fallback: str = HYPERVISOR_ERROR) -> T:
    """Run one libvirt call; a libvirtError comes out as HypervisorError."""
    try:
        return operation()
    except libvirt.libvirtError as exc:
        raise translate_error(exc, vm, fallback=fallback) from exc
