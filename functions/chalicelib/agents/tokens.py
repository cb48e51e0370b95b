"""Agent request tokens: EdDSA JWTs signed by the agent's own key.

The control plane holds only each agent's public key. `typ` is checked here
(PyJWT does not), `exp` may be at most MAX_LIFETIME after `iat`.
"""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pynamodb.exceptions import DoesNotExist

from ..errors import Forbidden, Unauthorized
from ..keys import b64url_decode
from ..settings import settings
from .models import Agent

AUDIENCE = "fleetvisor-agent-api"
TOKEN_TYPE = "fv-agent+jwt"
MAX_LIFETIME = 300
MAX_TOKEN_LENGTH = 2048


def verify(token: str) -> Agent:
    """The agent the token speaks for, or Unauthorized."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("The agent token is not valid.")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TOKEN_TYPE or header.get("alg") != "EdDSA":
            raise jwt.InvalidTokenError("wrong token type")
        subject = jwt.decode(token, options={"verify_signature": False}).get("sub")
        agent = Agent.get(str(subject)) if isinstance(subject, str) else None
        if agent is None:
            raise jwt.InvalidTokenError("no subject")
        claims = jwt.decode(token, _public_key(agent.public_key), algorithms=["EdDSA"],
                            audience=AUDIENCE, leeway=settings().agent_token_leeway,
                            options={"require": ["exp", "iat", "sub", "aud"]})
    except (jwt.PyJWTError, DoesNotExist, ValueError, TypeError) as exc:
        raise Unauthorized("The agent token is not valid.") from exc
    _check_lifetime(claims)
    if agent.revoked:
        raise Unauthorized("This host was deregistered by its owner.", "agent_revoked")
    if agent.approval != "approved":
        raise Forbidden("This host waits for its owner's approval.", "host_pending_approval")
    return agent


def _public_key(encoded: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(encoded))


def _check_lifetime(claims: dict[str, Any]) -> None:
    if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int) \
            or claims["exp"] - claims["iat"] > MAX_LIFETIME:
        raise Unauthorized("The agent token lives too long.")
