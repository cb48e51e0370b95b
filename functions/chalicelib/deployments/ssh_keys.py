"""SSH public keys in an operator's account: added (parsed, sshkeys.py), listed with their SHA256
fingerprints, removed; or generated as an Ed25519 pair whose private half is answered once and
never stored. A deployment's ssh-key input may name a stored key by its id."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from .. import store, validate
from ..errors import Conflict, Invalid, InvalidFields, NotFound
from . import sshkeys
from .models import SshKey

MAX_KEYS = 100


def key_id(key: sshkeys.PublicKey) -> str:
    return "sshk_" + hashlib.sha256(key.blob).hexdigest()[:32]


def add(owner_id: str, body: dict[str, Any]) -> SshKey:
    name = validate.text(body, "name", max_len=100, pattern=validate.LABEL_RE)
    try:
        key = sshkeys.parse(body.get("public_key"))
    except sshkeys.BadKey as exc:
        raise InvalidFields(f"The public key {exc}", "invalid_ssh_key", {"public_key": str(exc)}) from exc
    return _store(owner_id, name, key)


def generate(owner_id: str, body: dict[str, Any]) -> tuple[SshKey, str]:
    """A new Ed25519 pair: the public half stored, the private half (OpenSSH PEM) answered only now."""
    name = validate.text(body, "name", max_len=100, pattern=validate.LABEL_RE)
    private = Ed25519PrivateKey.generate()
    line = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    # The key's comment: the name's plain ASCII letters, digits and ._-@ (any name may be given).
    comment = "".join(c for c in name if c.isascii() and (c.isalnum() or c in "._-@"))[:60]
    stored = _store(owner_id, name, sshkeys.parse(f"{line} {comment}".strip()))
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    return stored, pem


def _store(owner_id: str, name: str, key: sshkeys.PublicKey) -> SshKey:
    if sum(1 for _ in SshKey.query(owner_id, attributes_to_get=["key_id"])) >= MAX_KEYS:
        raise Invalid(f"An account may hold at most {MAX_KEYS} SSH keys.", "too_many_ssh_keys")
    item = SshKey(owner_id, key_id(key), name=name, public_key=key.line, fingerprint=key.fingerprint,
                  key_type=key.key_type, bits=key.bits, created_ms=int(time.time() * 1000))
    with store.race() as first:
        item.save(condition=SshKey.key_id.does_not_exist())
    if first.lost:
        raise Conflict("This key is in your account already.", "ssh_key_exists") from first.error
    return item


def list_owned(owner_id: str) -> list[SshKey]:
    return sorted(SshKey.query(owner_id), key=lambda k: k.created_ms)


def remove(owner_id: str, ssh_key_id: str) -> SshKey:
    item = store.get_or_none(SshKey, owner_id, ssh_key_id)
    if item is None:
        raise NotFound("No such SSH key.", "ssh_key_not_found")
    item.delete()
    return item


def resolver(owner_id: str) -> Any:
    """For a deployment's ssh-key inputs: a stored key's id → its authorized_keys line (None: not ours)."""
    def resolve(stored_id: str) -> str | None:
        item = store.get_or_none(SshKey, owner_id, stored_id)
        return item.public_key if item is not None else None

    return resolve


def view(item: SshKey) -> dict[str, Any]:
    return {"key_id": item.key_id, "name": item.name, "public_key": item.public_key,
            "fingerprint": item.fingerprint, "type": item.key_type, "bits": int(item.bits),
            "created_ms": int(item.created_ms)}
