"""Passwords: the rules a new one must meet, and PBKDF2-HMAC-SHA256 hashing at
OWASP's cost with the parameters kept in the hash (so raising them later
rehashes on the next login).

Format: `pbkdf2_sha256$<iterations>$<salt b64url>$<digest b64url>`.
The common-password list is zxcvbn's 30,000 most common passwords.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from ..errors import Invalid
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


def needs_rehash(encoded: str) -> bool:
    try:
        return int(encoded.split("$")[1]) < ITERATIONS
    except (IndexError, ValueError):
        return True


@functools.lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_rules(password: str, email: str) -> None:
    """Length, not the email, not a common password: no composition rules (NIST 800-63B)."""
    if len(password) > MAX_LENGTH:
        raise Invalid(f"The password may be at most {MAX_LENGTH} characters.", "weak_password")
    if len(password) < MIN_LENGTH:
        raise Invalid(f"The password must be at least {MIN_LENGTH} characters.", "weak_password")
    if password.strip().lower() == email.strip().lower():
        raise Invalid("The password must not be the email address.", "weak_password")
    if password.lower() in _common():
        raise Invalid("That password is among the most common ones; choose another.", "weak_password")


# Checked against when the email is unknown, so both failures cost the same time.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
