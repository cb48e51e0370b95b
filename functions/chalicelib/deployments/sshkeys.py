"""OpenSSH public keys, parsed rather than pattern-matched.

A key line is `<type> <base64 blob> [comment]`. The blob is decoded strictly and read as SSH wire
strings: the type named inside must be the type named outside, and the key material must have the
sizes its type demands (Ed25519: 32 bytes; RSA: a modulus of 2048 to 16384 bits and an odd public
exponent; ECDSA: a point of its curve). The key is then loaded by `cryptography`, which checks that
an ECDSA point lies on its curve. authorized_keys options (`from=...`, `command=...`) are refused:
the control plane decides how a key is installed, not the text pasted in.

The fingerprint is OpenSSH's: `SHA256:` and the unpadded base64 of the SHA-256 of the blob.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

MAX_LINE = 16384
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384
# The type named on the line → the curve named inside the blob and the point's length (uncompressed).
ECDSA = {"ecdsa-sha2-nistp256": ("nistp256", 65), "ecdsa-sha2-nistp384": ("nistp384", 97),
         "ecdsa-sha2-nistp521": ("nistp521", 133)}
TYPES = ("ssh-ed25519", "ssh-rsa", *ECDSA)
COMMENT_RE = re.compile(r"[\x20-\x7e]{0,200}")


class BadKey(ValueError):
    """Why a text is not an acceptable public key; the message is for the operator."""


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str
    bits: int

    @property
    def fingerprint(self) -> str:
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    @property
    def line(self) -> str:
        """The key as written to authorized_keys: type, blob and comment, nothing else."""
        text = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{text} {self.comment}" if self.comment else text


def parse(text: object) -> PublicKey:
    if not isinstance(text, str):
        raise BadKey("must be an OpenSSH public key (text).")
    if len(text) > MAX_LINE:
        raise BadKey(f"is longer than {MAX_LINE} characters.")
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise BadKey("must look like 'ssh-ed25519 AAAA... comment'.")
    key_type, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if key_type not in TYPES:
        raise BadKey(f"has type '{key_type[:40]}'; allowed: {', '.join(TYPES)} (authorized_keys options are not).")
    if not COMMENT_RE.fullmatch(comment):
        raise BadKey("has a comment longer than 200 characters or with characters that are not printable ASCII.")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise BadKey("has a key part that is not valid base64.") from exc
    bits = _check_blob(key_type, blob)
    try:
        loaded = load_ssh_public_key(f"{key_type} {encoded}".encode())
    except (ValueError, TypeError) as exc:
        raise BadKey("does not hold a valid key of its type.") from exc
    if isinstance(loaded, rsa.RSAPublicKey):
        bits = loaded.key_size
    return PublicKey(key_type, blob, comment, bits)


def _check_blob(key_type: str, blob: bytes) -> int:
    """The key's size in bits, after checking the blob's structure against its type."""
    reader = _Wire(blob)
    inner = reader.string()
    if inner != key_type.encode():
        raise BadKey(f"names '{key_type}' outside but another type inside its key part.")
    if key_type == "ssh-ed25519":
        if len(reader.string()) != 32:
            raise BadKey("is an Ed25519 key whose key is not 32 bytes.")
        bits = 256
    elif key_type == "ssh-rsa":
        exponent, modulus = reader.mpint(), reader.mpint()
        bits = modulus.bit_length()
        if exponent < 3 or exponent % 2 == 0:
            raise BadKey("is an RSA key with a bad public exponent.")
        if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
            raise BadKey(f"is a {bits}-bit RSA key; RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits.")
    else:
        curve, length = ECDSA[key_type]
        if reader.string() != curve.encode():
            raise BadKey("names another curve inside its key part than its type says.")
        point = reader.string()
        if len(point) != length or point[0] != 4:
            raise BadKey(f"is not an uncompressed {curve} point.")
        bits = int(curve[5:])
    if not reader.done:
        raise BadKey("has bytes after the key.")
    return bits


class _Wire:
    """SSH wire format (RFC 4251): uint32 length-prefixed strings and mpints."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def string(self) -> bytes:
        if self.at + 4 > len(self.data):
            raise BadKey("has a truncated key part.")
        size = int.from_bytes(self.data[self.at:self.at + 4], "big")
        start, self.at = self.at + 4, self.at + 4 + size
        if self.at > len(self.data):
            raise BadKey("has a truncated key part.")
        return self.data[start:self.at]

    def mpint(self) -> int:
        raw = self.string()
        if raw and raw[0] & 0x80:
            raise BadKey("has a negative number in its key part.")
        return int.from_bytes(raw, "big")

    @property
    def done(self) -> bool:
        return self.at == len(self.data)
