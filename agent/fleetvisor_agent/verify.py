"""Verify a signed job envelope before anything in it is acted on.

The checks and their order are docs/protocol.md's table, and the first one
that fails names the refusal. The signature covers the raw payload bytes, so
it is checked before those bytes are parsed; the parsed payload must then
re-encode to exactly the same bytes (the canonical form), which rules out
floats, duplicate keys, escapes and whitespace that a signer could have
disagreed with us about.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .progress import Progress

ENVELOPE_FIELDS = frozenset({"v", "kid", "payload", "sig"})
PAYLOAD_TYPES: Mapping[str, type] = {
    "v": int, "job_id": str, "agent_id": str, "op": str, "args": dict,
    "issued_at": int, "expires_at": int, "attempt": int, "kid": str,
}
# An oversized record is refused before any decoding work is spent on it.
MAX_PAYLOAD_CHARS = 64 * 1024
MAX_SIG_CHARS = 128
MAX_KID_CHARS = 128
B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")


class Refused(Exception):
    """The job must not run; `reason` is the protocol's stable refusal code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedJob:
    """The signed payload, plus the one thing a handler learns while it runs, `cancelled`, and the one thing it
    may tell while it runs, `progress` (progress.py; the lease keeper sends it).

    `cancelled` is set when the agent stops caring about the job's outcome: the operator cancelled it, or
    another attempt owns it now. A handler that waits (vm.shutdown's escalation) waits on this event instead
    of sleeping and gives up early; a libvirt call in flight is left to finish.
    """

    job_id: str
    agent_id: str
    op: str
    args: Mapping[str, Any]
    issued_at: int
    expires_at: int
    attempt: int
    kid: str
    cancelled: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    progress: Progress = field(default_factory=Progress, compare=False, repr=False)


@dataclass(frozen=True)
class Policy:
    """What this agent accepts: whose keys, which agent id, which operations and arguments."""

    keys: Mapping[str, Ed25519PublicKey]
    agent_id: str
    allowed_ops: Collection[str]
    args_valid: Callable[[str, Mapping[str, Any]], bool]
    has_started: Callable[[str, int], bool]


def verify(envelope: object, policy: Policy, now: float) -> VerifiedJob:
    """The job inside `envelope` if every check passes at server time `now`, else Refused."""
    kid, raw, sig = _envelope_parts(envelope)
    key = policy.keys.get(kid)
    if key is None:
        raise Refused("unknown_kid", f"kid {kid!r} is not pinned")
    try:
        key.verify(sig, raw)
    except InvalidSignature:
        raise Refused("bad_signature") from None
    job = _parse_payload(raw, kid)
    _check_policy(job, policy, now)
    return job


def canonical_bytes(obj: Any) -> bytes:
    """The canonical form: sorted keys, no whitespace, UTF-8 unescaped (docs/protocol.md)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def unverified_job_id(envelope: object) -> str | None:
    """The job id a refused envelope claims, to address the refusal report; trusted for nothing else."""
    try:
        payload = json.loads(decode_b64url(envelope["payload"]))  # type: ignore[index]
    except (TypeError, KeyError, ValueError, RecursionError, Refused):
        return None
    job_id = payload.get("job_id") if isinstance(payload, dict) else None
    return job_id if isinstance(job_id, str) and 0 < len(job_id) <= 200 else None


def _envelope_parts(envelope: object) -> tuple[str, bytes, bytes]:
    if not isinstance(envelope, dict) or set(envelope) != ENVELOPE_FIELDS:
        raise Refused("malformed", "envelope must have exactly v, kid, payload, sig")
    version, kid, payload, sig = (envelope[k] for k in ("v", "kid", "payload", "sig"))
    if not is_int(version) or version != 1:
        raise Refused("malformed", "envelope version must be 1")
    if not (isinstance(kid, str) and isinstance(payload, str) and isinstance(sig, str)):
        raise Refused("malformed", "kid, payload and sig must be strings")
    if len(payload) > MAX_PAYLOAD_CHARS or len(sig) > MAX_SIG_CHARS or len(kid) > MAX_KID_CHARS:
        raise Refused("malformed", "envelope is oversized")
    return kid, decode_b64url(payload), decode_b64url(sig)


def decode_b64url(text: str) -> bytes:
    """Strict RFC 4648 §5 without padding: other alphabets, padding and stray bits are refused."""
    if not B64URL_RE.match(text) or len(text) % 4 == 1:
        raise Refused("malformed", "not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise Refused("malformed", "not base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise Refused("malformed", "not canonical base64url")
    return raw


def parse_canonical(raw: bytes) -> Any:
    """The JSON value in `raw`, which must be exactly its canonical form (no floats, escapes, whitespace)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_float=_no_floats, parse_constant=_no_floats)
        canonical = canonical_bytes(value)
    except (UnicodeError, ValueError, RecursionError):
        raise Refused("malformed", "payload is not canonical JSON") from None
    if canonical != raw:
        raise Refused("malformed", "payload is not in canonical form")
    return value


def _parse_payload(raw: bytes, envelope_kid: str) -> VerifiedJob:
    payload = parse_canonical(raw)
    if not isinstance(payload, dict) or set(payload) != set(PAYLOAD_TYPES):
        raise Refused("malformed", f"payload must have exactly {', '.join(sorted(PAYLOAD_TYPES))}")
    for name, kind in PAYLOAD_TYPES.items():
        if not isinstance(payload[name], kind) or (kind is int and isinstance(payload[name], bool)):
            raise Refused("malformed", f"payload field {name!r} must be of type {kind.__name__}")
    if payload["v"] != 1 or payload["attempt"] < 1 or payload["kid"] != envelope_kid:
        raise Refused("malformed", "payload v must be 1, attempt >= 1 and kid the envelope's")
    return VerifiedJob(**{name: payload[name] for name in PAYLOAD_TYPES if name != "v"})


def _check_policy(job: VerifiedJob, policy: Policy, now: float) -> None:
    if job.agent_id != policy.agent_id:
        raise Refused("wrong_agent", f"job is for {job.agent_id!r}")
    if now > job.expires_at:
        raise Refused("expired", f"expired {now - job.expires_at:.0f} s ago")
    if policy.has_started(job.job_id, job.attempt):
        raise Refused("replayed", f"attempt {job.attempt} of {job.job_id} was already started")
    if job.op not in policy.allowed_ops:
        raise Refused("op_not_allowed", f"operation {job.op!r} is not allowed on this host")
    if not policy.args_valid(job.op, job.args):
        raise Refused("bad_args", f"arguments do not match the schema of {job.op}")


def _no_floats(text: str) -> Any:
    raise ValueError(f"floats are not allowed in a signed job: {text}")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
