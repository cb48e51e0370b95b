"""Signed jobs and signed key announcements: canonical JSON and the Ed25519 envelopes (docs/protocol.md).

Jobs are signed when claimed, so the signed `attempt` is the claimed one.
The announcement of the job-signing keys is signed by every key in the
keyring, so an agent that pins any of them can follow a rotation, and a
transport that is not the control plane cannot add a key of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..keys import Keyring, b64url

ENVELOPE_VERSION = 1
ANNOUNCEMENT_TYPE = "signing_keys"


def canonical(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace; floats are refused."""
    _refuse_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise ValueError("floats have no canonical form in signed jobs")
    if isinstance(obj, dict):
        for value in obj.values():
            _refuse_floats(value)
    elif isinstance(obj, list):
        for value in obj:
            _refuse_floats(value)


def payload(*, job_id: str, agent_id: str, op: str, args: dict[str, Any], issued_at: int,
            expires_at: int, attempt: int, kid: str) -> dict[str, Any]:
    return {"v": ENVELOPE_VERSION, "job_id": job_id, "agent_id": agent_id, "op": op, "args": args,
            "issued_at": issued_at, "expires_at": expires_at, "attempt": attempt, "kid": kid}


def envelope(body: dict[str, Any], kid: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    raw = canonical(body)
    return {"v": ENVELOPE_VERSION, "kid": kid, "payload": b64url(raw), "sig": b64url(key.sign(raw))}


def announcement(serial: int, public_keys: list[dict[str, str]],
                 signers: Mapping[str, Ed25519PrivateKey]) -> dict[str, Any]:
    """`{"v", "payload", "sigs": [{"kid", "sig"}]}` over the canonical `{"v", "type", "serial", "keys"}`."""
    raw = canonical({"v": ENVELOPE_VERSION, "type": ANNOUNCEMENT_TYPE, "serial": serial, "keys": public_keys})
    return {"v": ENVELOPE_VERSION, "payload": b64url(raw),
            "sigs": [{"kid": kid, "sig": b64url(key.sign(raw))} for kid, key in sorted(signers.items())]}


def announce(ring: Keyring) -> dict[str, Any]:
    """The keyring's public keys, signed by each of its keys."""
    return announcement(ring.serial, ring.public_keys(), ring.private)
