"""SHA-512 crypt (`$6$`), the password hash cloud-init writes to /etc/shadow.

Python's `crypt` module is deprecated (PEP 594) and gone in 3.13, and passlib is unmaintained, so this
is Ulrich Drepper's published algorithm ("Unix crypt using SHA-256 and SHA-512", the specification
glibc implements), checked against the specification's own test vectors in
tests/functions/test_deployment_inputs.py. Only hashing is needed here, never verifying.
"""

from __future__ import annotations

import hashlib
import secrets

ROUNDS_DEFAULT = 5000
ROUNDS_MIN, ROUNDS_MAX = 1000, 999_999_999
# What we hash with: high enough to slow guessing from a leaked seed ISO, low enough for a Lambda.
ROUNDS = 100_000
SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The order in which the 64 digest bytes are written out, three at a time (last: one).
_ORDER = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
          (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
          (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41)]


def _repeat(digest: bytes, length: int) -> bytes:
    return (digest * (length // 64 + 1))[:length]


def sha512_crypt(password: str, salt: str | None = None, rounds: int = ROUNDS) -> str:
    """`$6$rounds=N$salt$hash` (rounds shown unless the default 5000, as glibc writes it)."""
    if salt is None:
        salt = "".join(secrets.choice(SALT_ALPHABET) for _ in range(16))
    key, salt_bytes = password.encode("utf-8"), salt[:16].encode("ascii")
    rounds = max(ROUNDS_MIN, min(ROUNDS_MAX, rounds))
    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    a = hashlib.sha512(key + salt_bytes + _repeat(alternate, len(key)))
    length = len(key)
    while length:
        a.update(alternate if length & 1 else key)
        length >>= 1
    digest_a = a.digest()
    p_bytes = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s_bytes = _repeat(hashlib.sha512(salt_bytes * (16 + digest_a[0])).digest(), len(salt_bytes))
    current = digest_a
    for i in range(rounds):
        c = hashlib.sha512(p_bytes if i & 1 else current)
        if i % 3:
            c.update(s_bytes)
        if i % 7:
            c.update(p_bytes)
        c.update(current if i & 1 else p_bytes)
        current = c.digest()
    prefix = "$6$" + (f"rounds={rounds}$" if rounds != ROUNDS_DEFAULT else "")
    return f"{prefix}{salt_bytes.decode()}${_encode(current)}"


def _encode(digest: bytes) -> str:
    out = []
    for b2, b1, b0 in _ORDER:
        out.append(_b64(digest[b2] << 16 | digest[b1] << 8 | digest[b0], 4))
    out.append(_b64(digest[63], 2))
    return "".join(out)


def _b64(value: int, count: int) -> str:
    chars = []
    for _ in range(count):
        chars.append(SALT_ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(chars)
