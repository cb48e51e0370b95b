"""Agent request tokens: EdDSA JWTs signed by the agent's own key.

The control plane holds only each agent's public key. `typ` is checked here
(PyJWT does not), `exp` may be at most MAX_LIFETIME after `iat`.

Every agent call reads the agent's record, strongly consistent, and nothing
of it is cached between requests. A deregistered host's next call must get
401 agent_revoked, and a key replaced by an approved re-registration must
stop at once; both are changes to this record made through any Lambda
instance, so no instance may answer from its own copy. (An eventually
consistent read could return the record from before a deregistration for a
moment after it: hence consistent reads, which cost read units, not requests.)

Why not cache the record and check revocation elsewhere? A cached public
key is only safe when a write the request makes anyway re-checks, in its
condition, what the read would have checked (key unchanged, not revoked,
approved). Only the heartbeat writes the agent's record. Poll, lease and
complete write job records, and a condition can only see the item it
writes; with no transactions (dynalite has none, and the design uses none)
the agent's state would have to be copied onto its jobs, with deregistration
fencing each live job. That leaves a window: a long poll that authenticated
before the deregistration can claim a job after the fence has passed over
it, and that job's lease and completion would then be accepted. So these
calls keep their one read. The heartbeat could trade its read for a
condition on its own update (one request less per heartbeat); it is off the
job path and is left for when idle cost matters more than a second
authentication path.
"""

from __future__ import annotations

import re
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pynamodb.exceptions import DoesNotExist

from .. import ids
from ..errors import Forbidden, Unauthorized
from ..keys import b64url_decode
from ..settings import settings
from .models import Agent

AUDIENCE = "fleetvisor-agent-api"
TOKEN_TYPE = "fv-agent+jwt"
MAX_LIFETIME = 300
MAX_TOKEN_LENGTH = 2048
MAX_INSTANCE_LENGTH = 64
# Stored on the host record: printable ASCII only (a lone surrogate has no UTF-8 form for the store).
INSTANCE_RE = re.compile(rf"[!-~]{{1,{MAX_INSTANCE_LENGTH}}}")


def verify(token: str) -> tuple[Agent, str | None]:
    """The agent the token speaks for and the agent process it names (`inst`, if any), or Unauthorized."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("The agent token is not valid.")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TOKEN_TYPE or header.get("alg") != "EdDSA":
            raise jwt.InvalidTokenError("wrong token type")
        # The one claim read before the signature is checked, since it names the key to check it with:
        # only an agent id of its documented form gets as far as the store.
        subject = jwt.decode(token, options={"verify_signature": False}).get("sub")
        if not ids.matches("agent_id", subject):
            raise jwt.InvalidTokenError("no subject")
        agent = Agent.get(subject, consistent_read=True)
        claims = jwt.decode(token, _public_key(agent.public_key), algorithms=["EdDSA"],
                            audience=AUDIENCE, leeway=settings().agent_token_leeway,
                            options={"require": ["exp", "iat", "sub", "aud"]})
    except (jwt.PyJWTError, DoesNotExist, ValueError, TypeError) as exc:
        raise Unauthorized("The agent token is not valid.") from exc
    _check_lifetime(claims)
    check_standing(agent)
    instance = claims.get("inst")
    if instance is not None and not (isinstance(instance, str) and INSTANCE_RE.fullmatch(instance)):
        raise Unauthorized("The agent token names a malformed agent process.")
    return agent, instance


def check_standing(agent: Agent) -> None:
    """A verified agent may still not be let in: deregistered, or waiting for its owner's approval."""
    if agent.revoked:
        raise Unauthorized("This host was deregistered by its owner.", "agent_revoked")
    if agent.approval != "approved":
        raise Forbidden("This host waits for its owner's approval.", "host_pending_approval")


def _public_key(encoded: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(encoded))


def _check_lifetime(claims: dict[str, Any]) -> None:
    if not isinstance(claims["exp"], int) or not isinstance(claims["iat"], int) \
            or claims["exp"] - claims["iat"] > MAX_LIFETIME:
        raise Unauthorized("The agent token lives too long.")
