"""Signed announcements of the control plane's job-signing keys: after enrolment, the only way the pinned
keys change.

Envelope: `{"v": 1, "payload": b64url(canonical bytes), "sigs": [{"kid", "sig"}, ...]}`; the payload
is `{"v": 1, "type": "signing_keys", "serial": n, "keys": [{"kid", "public_key"}, ...]}` in the same
canonical form as signed jobs (docs/protocol.md). The control plane signs it with every key of its
keyring, so an agent that pins any of them can follow a rotation.

It is accepted only when a signature by a key the agent already pins verifies over the raw payload bytes
(before they are parsed), the payload is canonical with exactly these fields, and its `serial` is not
below the one the agent holds (an old announcement, replayed, cannot bring back a retired key; one with
the same serial must say the same keys). The announced keys then replace the pinned ones: a new kid is
added, a retired one dropped. Whoever controls only the transport has no key to sign with, so it can
neither add a key nor remove one.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .state import public_key_from_b64
from .verify import MAX_KID_CHARS, MAX_SIG_CHARS, Refused, decode_b64url, is_int, parse_canonical

ENVELOPE_FIELDS = frozenset({"v", "payload", "sigs"})
PAYLOAD_FIELDS = frozenset({"v", "type", "serial", "keys"})
ANNOUNCEMENT_TYPE = "signing_keys"
MAX_KEYS = 8
MAX_PAYLOAD_CHARS = 16 * 1024


@dataclass(frozen=True)
class KeySet:
    serial: int
    keys: dict[str, str]  # kid → base64url public key, as the state file keeps them


def verify_announcement(envelope: object, pinned: Mapping[str, Ed25519PublicKey], pinned_serial: int) -> KeySet:
    """The announced keys if the announcement holds against what is pinned, else Refused(reason)."""
    raw, sigs = _envelope_parts(envelope)
    _check_signatures(raw, sigs, pinned)
    announced = _parse(raw)
    if announced.serial < pinned_serial:
        raise Refused("rollback", f"serial {announced.serial} is older than the pinned {pinned_serial}")
    if announced.serial == pinned_serial and set(announced.keys) != set(pinned):
        raise Refused("rollback", f"serial {announced.serial} is the pinned one, with other keys")
    return announced


def _envelope_parts(envelope: object) -> tuple[bytes, list[tuple[str, bytes]]]:
    if not isinstance(envelope, dict) or set(envelope) != ENVELOPE_FIELDS:
        raise Refused("malformed", "announcement must have exactly v, payload, sigs")
    version, payload, sigs = envelope["v"], envelope["payload"], envelope["sigs"]
    if not is_int(version) or version != 1:
        raise Refused("malformed", "announcement version must be 1")
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_CHARS:
        raise Refused("malformed", "payload must be a string of at most 16 KiB")
    if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_KEYS:
        raise Refused("malformed", f"sigs must be a list of 1 to {MAX_KEYS} signatures")
    return decode_b64url(payload), [_signature(entry) for entry in sigs]


def _signature(entry: Any) -> tuple[str, bytes]:
    if not isinstance(entry, dict) or set(entry) != {"kid", "sig"}:
        raise Refused("malformed", "each signature must have exactly kid, sig")
    kid, sig = entry["kid"], entry["sig"]
    if not (isinstance(kid, str) and isinstance(sig, str)) or len(kid) > MAX_KID_CHARS or len(sig) > MAX_SIG_CHARS:
        raise Refused("malformed", "kid and sig must be short strings")
    return kid, decode_b64url(sig)


def _check_signatures(raw: bytes, sigs: list[tuple[str, bytes]], pinned: Mapping[str, Ed25519PublicKey]) -> None:
    """At least one signature by a pinned key verifies; signatures by other keys count for nothing."""
    ours = [(kid, sig) for kid, sig in sigs if kid in pinned]
    if not ours:
        raise Refused("unknown_kid", f"signed by {', '.join(repr(kid) for kid, _ in sigs)}, none of them pinned")
    for kid, sig in ours:
        try:
            pinned[kid].verify(sig, raw)
            return
        except InvalidSignature:
            continue
    raise Refused("bad_signature")


def _parse(raw: bytes) -> KeySet:
    payload = parse_canonical(raw)
    if not isinstance(payload, dict) or set(payload) != PAYLOAD_FIELDS:
        raise Refused("malformed", f"payload must have exactly {', '.join(sorted(PAYLOAD_FIELDS))}")
    if payload["v"] != 1 or payload["type"] != ANNOUNCEMENT_TYPE:
        raise Refused("malformed", f"payload v must be 1 and type {ANNOUNCEMENT_TYPE!r}")
    serial, entries = payload["serial"], payload["keys"]
    if not is_int(serial) or serial < 1:
        raise Refused("malformed", "serial must be a positive integer")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_KEYS:
        raise Refused("malformed", f"keys must be a list of 1 to {MAX_KEYS} keys")
    keys = dict(_key(entry) for entry in entries)
    if len(keys) != len(entries):
        raise Refused("malformed", "a kid is announced twice")
    return KeySet(serial, keys)


def _key(entry: Any) -> tuple[str, str]:
    if not isinstance(entry, dict) or set(entry) != {"kid", "public_key"}:
        raise Refused("malformed", "each key must have exactly kid, public_key")
    kid, value = entry["kid"], entry["public_key"]
    if not (isinstance(kid, str) and 0 < len(kid) <= MAX_KID_CHARS and isinstance(value, str)):
        raise Refused("malformed", "kid and public_key must be strings")
    try:
        public_key_from_b64(value)
    except (ValueError, binascii.Error):
        raise Refused("malformed", f"the public key of {kid!r} is not an Ed25519 key") from None
    return kid, value
