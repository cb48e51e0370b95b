"""Password hashing: PBKDF2-HMAC-SHA256 at OWASP's cost, parameters kept in the hash.

Format: `pbkdf2_sha256$<iterations>$<salt b64url>$<digest b64url>`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ..keys import b64url, b64url_decode

ITERATIONS = 600_000
MIN_LENGTH = 12
MAX_LENGTH = 1024


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${b64url(salt)}${b64url(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), b64url_decode(salt), int(iterations))
    return hmac.compare_digest(got, b64url_decode(digest))


# Checked against when the email is unknown, so both failures cost the same time.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
