"""The one error the hypervisor layer raises: a stable code, a message for people, and whether to retry.

The codes are docs/protocol.md's ("Errors" after the operations table); the
libvirt errors behind them are translated in guest.py.
"""

from __future__ import annotations

VM_NOT_FOUND = "vm_not_found"
INVALID_STATE = "invalid_state"  # the operation does not apply to the VM's current state
SNAPSHOT_NOT_FOUND = "snapshot_not_found"
SNAPSHOT_EXISTS = "snapshot_exists"
OPERATION_UNSUPPORTED = "operation_unsupported"  # this hypervisor or this VM's configuration cannot do it
OPERATION_DENIED = "operation_denied"
OPERATION_TIMEOUT = "operation_timeout"
HYPERVISOR_UNAVAILABLE = "hypervisor_unavailable"
STORAGE_ERROR = "storage_error"
CONFIRMATION_MISMATCH = "confirmation_mismatch"
HYPERVISOR_ERROR = "hypervisor_error"  # anything else, with libvirt's own message
CONSOLE_BUSY = "console_busy"  # another session holds the VM's serial console

CODES = frozenset({VM_NOT_FOUND, INVALID_STATE, SNAPSHOT_NOT_FOUND, SNAPSHOT_EXISTS, OPERATION_UNSUPPORTED,
                   OPERATION_DENIED, OPERATION_TIMEOUT, HYPERVISOR_UNAVAILABLE, STORAGE_ERROR,
                   CONFIRMATION_MISMATCH, HYPERVISOR_ERROR, CONSOLE_BUSY})


class HypervisorError(Exception):
    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
