"""Ed25519 keyrings kept in Secrets Manager: the job-signing key and the
access-token key, each a separate secret.

Secret value: `{"active": "<kid>", "keys": {"<kid>": "<b64url 32-byte seed>"},
"serial": n, "changed_at": unix seconds}`. More than one key lets a rotation
overlap: the active one signs, all verify. `serial` counts the changes of the
set of keys (agents refuse an announcement of the job-signing keys with a
lower serial than the one they hold, so an old announcement cannot bring a
retired key back); `changed_at` is when the last step of a rotation was
taken. A secret without them is serial 1.

Rotating is three steps, each its own change of the secret (`infra/keys.py`):
`add_key` (a new key that verifies but does not sign yet, so agents learn it
first), `activate` (it signs from now on), `retire` (an old key goes). A
keyring is cached per warm Lambda for a few minutes (`key_cache_seconds`), so
a step reaches every instance without a deploy; the next step waits for that.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from . import aws
from .settings import settings

MAX_KEYS = 4  # a rotation needs two; more means an earlier one was never finished


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class KeyringError(ValueError):
    """A rotation step that does not apply to this keyring; the message says why."""


@dataclass(frozen=True)
class Keyring:
    active_kid: str
    private: dict[str, Ed25519PrivateKey]
    serial: int = 1
    changed_at: int = 0

    def signer(self) -> tuple[str, Ed25519PrivateKey]:
        return self.active_kid, self.private[self.active_kid]

    def public(self, kid: str) -> Ed25519PublicKey | None:
        key = self.private.get(kid)
        return key.public_key() if key is not None else None

    def public_keys(self) -> list[dict[str, str]]:
        return [{"kid": kid, "public_key": b64url(public_raw(key.public_key()))}
                for kid, key in sorted(self.private.items())]


def parse(secret_string: str) -> Keyring:
    doc = json.loads(secret_string)
    keys = {kid: Ed25519PrivateKey.from_private_bytes(b64url_decode(seed))
            for kid, seed in doc["keys"].items()}
    if doc["active"] not in keys:
        raise ValueError("the active kid is not in the keyring")
    serial, changed_at = doc.get("serial", 1), doc.get("changed_at", 0)
    if not isinstance(serial, int) or serial < 1 or not isinstance(changed_at, int):
        raise ValueError("serial must be a positive integer and changed_at an integer")
    return Keyring(doc["active"], keys, serial, changed_at)


def dump(ring: Keyring) -> str:
    """The secret value of a keyring (what `parse` reads)."""
    seeds = {kid: b64url(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
             for kid, key in sorted(ring.private.items())}
    return json.dumps({"active": ring.active_kid, "keys": seeds, "serial": ring.serial,
                       "changed_at": ring.changed_at})


def new_kid(kid_prefix: str) -> str:
    return f"{kid_prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(3)}"


def new_secret_value(kid_prefix: str) -> str:
    """A fresh keyring with one key, for a stage's first start."""
    kid = new_kid(kid_prefix)
    return dump(Keyring(kid, {kid: Ed25519PrivateKey.generate()}, 1, int(time.time())))


def add_key(ring: Keyring, kid_prefix: str, now: int) -> tuple[Keyring, str]:
    """Rotation, step 1: a new key that verifies (and is announced) but does not sign yet."""
    if len(ring.private) >= MAX_KEYS:
        raise KeyringError(f"the keyring already holds {len(ring.private)} keys: retire one first")
    kid = new_kid(kid_prefix)
    private = {**ring.private, kid: Ed25519PrivateKey.generate()}
    return Keyring(ring.active_kid, private, ring.serial + 1, now), kid


def activate(ring: Keyring, kid: str, now: int) -> Keyring:
    """Rotation, step 2: `kid` signs from now on; the set of keys (and its serial) stays as it was."""
    if kid not in ring.private:
        raise KeyringError(f"no key {kid!r} in the keyring")
    if kid == ring.active_kid:
        raise KeyringError(f"{kid!r} is the active key already")
    return Keyring(kid, ring.private, ring.serial, now)


def retire(ring: Keyring, kid: str, now: int) -> Keyring:
    """Rotation, step 3: an old key goes; agents drop it when they hear the next announcement."""
    if kid not in ring.private:
        raise KeyringError(f"no key {kid!r} in the keyring")
    if kid == ring.active_kid:
        raise KeyringError(f"{kid!r} is the active key: activate another one first")
    private = {k: v for k, v in ring.private.items() if k != kid}
    return Keyring(ring.active_kid, private, ring.serial + 1, now)


_cache: dict[str, tuple[float, Keyring]] = {}
_lock = threading.Lock()


def load(secret_name: str) -> Keyring:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(secret_name)
        if hit is not None and now - hit[0] < settings().key_cache_seconds:
            return hit[1]
    ring = parse(aws.secrets().get_secret_value(SecretId=secret_name)["SecretString"])
    with _lock:
        _cache[secret_name] = (now, ring)
    return ring


def forget() -> None:
    with _lock:
        _cache.clear()
