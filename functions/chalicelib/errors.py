"""Domain errors, raised where they happen and turned into HTTP once (web.py).

Each carries its HTTP status and a stable error code; the message is for people.
Logic modules raise these and never import Chalice.
"""

from __future__ import annotations


class FleetvisorError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if code is not None:
            self.code = code


class Invalid(FleetvisorError):
    status = 400
    code = "invalid_request"


class InvalidFields(Invalid):
    """Several named fields are wrong at once: the answer says why for each (`error.fields`), so a form
    can show every message beside its own field."""

    def __init__(self, message: str, code: str, fields: dict[str, str]) -> None:
        super().__init__(message, code)
        self.fields = dict(fields)


class Unauthorized(FleetvisorError):
    status = 401
    code = "unauthorized"


class Forbidden(FleetvisorError):
    status = 403
    code = "forbidden"


class NotFound(FleetvisorError):
    status = 404
    code = "not_found"


class Conflict(FleetvisorError):
    status = 409
    code = "conflict"


class PayloadTooLarge(FleetvisorError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(FleetvisorError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code, headers={"Retry-After": str(max(1, retry_after))})


class Unavailable(FleetvisorError):
    """Not now, but soon: the caller retries after `retry_after` seconds (the agent honours Retry-After)."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code, headers={"Retry-After": str(max(1, retry_after))})


class StoreBusy(Unavailable):
    """The store throttled a request past botocore's own retries: nothing was decided, so the caller
    should send the same request again shortly (never a lost race, which is a 409)."""

    code = "store_busy"

    def __init__(self, message: str = "The store is busy; send the same request again in a moment.",
                 retry_after: int = 1) -> None:
        super().__init__(message, retry_after)
