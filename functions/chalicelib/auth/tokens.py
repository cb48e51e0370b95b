"""Operator access tokens: short-lived EdDSA JWTs (`typ: at+jwt`).

The algorithm allow-list is EdDSA only, keys come from our keyring by `kid`
(never from `jku`/`jwk`/`x5u`), and `typ` is checked here since PyJWT does not.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from .. import keys
from ..errors import Unauthorized
from ..settings import settings

AUDIENCE = "fleetvisor-api"
TOKEN_TYPE = "at+jwt"
MAX_TOKEN_LENGTH = 4096


def issue(user_id: str, token_version: int, session_id: str) -> str:
    config = settings()
    kid, key = keys.load(config.token_key_secret).signer()
    now = int(time.time())
    claims = {"iss": config.issuer, "aud": AUDIENCE, "sub": user_id, "iat": now,
              "exp": now + config.access_token_seconds, "ver": token_version, "sid": session_id,
              "jti": secrets.token_hex(8)}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"typ": TOKEN_TYPE, "kid": kid})


def verify(token: str) -> dict[str, Any]:
    """The token's claims, or Unauthorized with one message for every failure."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("The access token is not valid.")
    config = settings()
    try:
        header = jwt.get_unverified_header(token)
        public = _key_for(header)
        return jwt.decode(token, public, algorithms=["EdDSA"], audience=AUDIENCE,
                          issuer=config.issuer, leeway=30,
                          options={"require": ["exp", "iat", "sub", "aud", "iss", "sid"]})
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise Unauthorized("The access token is not valid.") from exc


def _key_for(header: dict[str, Any]) -> Any:
    if header.get("typ") != TOKEN_TYPE or header.get("alg") != "EdDSA":
        raise jwt.InvalidTokenError("wrong token type")
    kid = header.get("kid")
    public = keys.load(settings().token_key_secret).public(kid) if isinstance(kid, str) else None
    if public is None:
        raise jwt.InvalidTokenError("unknown key")
    return public
