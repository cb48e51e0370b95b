"""The agent's identity on disk: one JSON file in the state dir.

The file holds the control-plane URL, the agent and owner ids, the agent's
Ed25519 private key (generated before the first enrolment, so a lost answer can
be retried with the same key) and the control plane's job-signing public keys
pinned at enrolment (and the serial of the last signed announcement of them
that the agent accepted). While the host waits for its owner's approval it also
keeps the enrolment token, so that `run` can ask again after `enroll` exited;
the token is dropped once the host is approved. It is written whole and atomically (temp file, fsync,
rename) with mode 0600 inside a 0700 directory: a crash leaves either the old
or the new file, never half of one.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

STATE_FILE = "state.json"
FORMAT_VERSION = 1


class StateError(Exception):
    """The state file exists but cannot be used; the message says why."""


@dataclass
class AgentState:
    url: str
    private_key: Ed25519PrivateKey = field(repr=False)
    agent_id: str | None = None
    owner_id: str | None = None
    name: str | None = None
    signing_keys: dict[str, str] = field(default_factory=dict)
    signing_keys_serial: int = 0  # of the last accepted announcement (announcements.py); 0 before any
    # Only while waiting for the owner's approval: the token to register with again.
    enrollment_token: str | None = field(default=None, repr=False)

    @property
    def enrolled(self) -> bool:
        return self.agent_id is not None

    @property
    def public_key(self) -> str:
        """The agent's public key as the control plane wants it: base64url of the raw 32 bytes."""
        return b64url_encode(self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def pinned_keys(self) -> dict[str, Ed25519PublicKey]:
        return {kid: public_key_from_b64(value) for kid, value in self.signing_keys.items()}


def new_state(url: str) -> AgentState:
    """A fresh identity for `url`: a new key pair, not enrolled yet (also what a deregistered host keeps)."""
    return AgentState(url=url, private_key=Ed25519PrivateKey.generate())


def ensure_state_dir(state_dir: Path) -> None:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing dir.
    os.chmod(state_dir, 0o700)


def load_state(state_dir: Path) -> AgentState | None:
    """The saved state, or None before the first enrolment attempt."""
    path = state_dir / STATE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _from_document(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path} is not a valid agent state file ({type(exc).__name__}); "
                         "restore it or remove it to enrol again.") from exc


def save_state(state_dir: Path, state: AgentState) -> None:
    ensure_state_dir(state_dir)
    write_atomically(state_dir / STATE_FILE, json.dumps(_to_document(state), indent=2).encode() + b"\n")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new bytes, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(text))


def _to_document(state: AgentState) -> dict[str, Any]:
    seed = state.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    doc = {"format": FORMAT_VERSION, "url": state.url, "agent_id": state.agent_id,
           "owner_id": state.owner_id, "name": state.name, "private_key": b64url_encode(seed),
           "signing_keys": dict(sorted(state.signing_keys.items())),
           "signing_keys_serial": state.signing_keys_serial}
    if state.enrollment_token is not None:
        doc["enrollment_token"] = state.enrollment_token
    return doc


def _from_document(doc: dict[str, Any]) -> AgentState:
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"unknown format {doc.get('format')!r}")
    keys = doc.get("signing_keys") or {}
    for kid, value in keys.items():
        if not isinstance(kid, str):
            raise TypeError("signing_keys must map kid to a base64url key")
        public_key_from_b64(value)
    serial = doc.get("signing_keys_serial", 0)
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        raise TypeError("signing_keys_serial must be a non-negative integer")
    token = doc.get("enrollment_token")
    if token is not None and not isinstance(token, str):
        raise TypeError("enrollment_token must be a string")
    return AgentState(url=str(doc["url"]), agent_id=doc.get("agent_id"), owner_id=doc.get("owner_id"),
                      name=doc.get("name"),
                      private_key=Ed25519PrivateKey.from_private_bytes(b64url_decode(doc["private_key"])),
                      signing_keys=dict(keys), signing_keys_serial=serial, enrollment_token=token)
