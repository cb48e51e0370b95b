"""Ed25519 keyrings kept in Secrets Manager: the job-signing key and the
access-token key, each a separate secret.

Secret value: `{"active": "<kid>", "keys": {"<kid>": "<b64url 32-byte seed>"}}`.
More than one key lets a rotation overlap: the active one signs, all verify.
A keyring is cached per warm Lambda for a few minutes so a rotation reaches
every instance without a deploy.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import aws

CACHE_SECONDS = 300


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Keyring:
    active_kid: str
    private: dict[str, Ed25519PrivateKey]

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
    return Keyring(doc["active"], keys)


def new_secret_value(kid_prefix: str) -> str:
    """A fresh keyring with one key, for a stage's first start."""
    kid = f"{kid_prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(3)}"
    seed = secrets.token_bytes(32)
    return json.dumps({"active": kid, "keys": {kid: b64url(seed)}})


_cache: dict[str, tuple[float, Keyring]] = {}
_lock = threading.Lock()


def load(secret_name: str) -> Keyring:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(secret_name)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    ring = parse(aws.secrets().get_secret_value(SecretId=secret_name)["SecretString"])
    with _lock:
        _cache[secret_name] = (now, ring)
    return ring


def forget() -> None:
    with _lock:
        _cache.clear()
