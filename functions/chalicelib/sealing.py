"""Secrets sealed into a job record, revealed only in the signed job an agent claims.

A job's arguments may need a secret in clear on the host (a Windows Administrator password inside
Autounattend.xml, an installer's password in its environment file). The record stores a random
placeholder (`FV-SEALED-<32 hex>`) where each secret goes, and beside the arguments (`Job.sealed`)
the placeholders' values encrypted with AES-256-GCM; the job id is the associated data, so a sealed
blob moved to another job does not open. `reveal` puts the values back when the job is signed at
claim time (jobs/dispatch.py): never in the store, a job read, the audit trail or a log.

The key is the sealing keyring in Secrets Manager (`fleetvisor/<stage>/sealing-key`), in the same
format and with the same rotation steps as the signing keyrings (keys.py): each key's 32-byte seed,
through HKDF-SHA256, is an AES key; the active one seals, any in the ring opens (by `kid`).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from . import keys
from .settings import settings

PLACEHOLDER_RE = re.compile(r"FV-SEALED-[0-9a-f]{32}")
INFO = b"fleetvisor sealed job secrets v1"


class SealError(ValueError):
    """A sealed blob that does not open: another job's, a retired key's, or altered."""


class Vault:
    """Collects the secrets a rendering needs, handing out a placeholder for each."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def seal(self, clear: str) -> str:
        placeholder = f"FV-SEALED-{secrets.token_hex(16)}"
        self.values[placeholder] = clear
        return placeholder


def _aes(key: Ed25519PrivateKey) -> AESGCM:
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(seed))


def seal(values: dict[str, str], job_id: str) -> str:
    kid, key = keys.load(settings().seal_key_secret).signer()
    nonce = secrets.token_bytes(12)
    sealed = _aes(key).encrypt(nonce, json.dumps(values).encode(), job_id.encode())
    return json.dumps({"v": 1, "kid": kid, "nonce": keys.b64url(nonce), "ct": keys.b64url(sealed)})


def unseal(blob: str, job_id: str) -> dict[str, str]:
    try:
        doc = json.loads(blob)
        key = keys.load(settings().seal_key_secret).private.get(doc["kid"])
        if key is None:
            raise SealError("sealed with a key no longer in the keyring")
        clear = _aes(key).decrypt(keys.b64url_decode(doc["nonce"]), keys.b64url_decode(doc["ct"]), job_id.encode())
    except (ValueError, KeyError, TypeError, InvalidTag) as exc:
        raise SealError("the sealed secrets do not open for this job") from exc
    values: dict[str, str] = json.loads(clear)
    return values


def reveal(args: Any, blob: str | None, job_id: str) -> Any:
    """`args` with every placeholder replaced by its value (unchanged when nothing is sealed)."""
    if not blob:
        return args
    values = unseal(blob, job_id)
    return _replace(args, values)


def _replace(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(0), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _replace(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, values) for v in value]
    return value
