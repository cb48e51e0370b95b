"""The one error the hypervisor layer raises: a stable code, a message for people, and whether to retry."""

from __future__ import annotations

VM_NOT_FOUND = "vm_not_found"
INVALID_STATE = "invalid_state"
PERMISSION_DENIED = "permission_denied"
UNSUPPORTED = "unsupported"
INVALID_REQUEST = "invalid_request"
HYPERVISOR_UNAVAILABLE = "hypervisor_unavailable"
HYPERVISOR_TIMEOUT = "hypervisor_timeout"
HYPERVISOR_ERROR = "hypervisor_error"


class HypervisorError(Exception):
    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
