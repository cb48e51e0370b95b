"""Enrolment: one-use (or n-use) tokens that let a host join its owner's fleet.

A host's id is derived from (owner, name), so the conditional put that creates
it is also what keeps names unique per owner. The same name from the same key
re-uses the record and its history; from a different key it is refused (the
agent-protocol work turns that into an approval queue).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .. import store, validate
from ..auth.models import User
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..jobs import doorbell
from ..keys import b64url_decode
from ..settings import settings
from ..vms.models import Vm
from .capabilities import parse as parse_capabilities
from .models import Agent, EnrollmentToken

TOKEN_PREFIX = "fvet_"
AGENT_NAMESPACE = uuid.UUID("1f0c5b8e-7d52-4c1e-9a0b-6e2f3d4c5b6a")
ENVIRONMENT_RE = validate.form(r"^[a-z0-9][a-z0-9-]{0,31}\Z",
                               "1 to 32 lowercase letters, digits or '-', starting with a letter or digit")
HOSTNAME_RE = validate.form(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}\Z",
                            "a host name: letters, digits, '.' and '-', starting with a letter or digit")


@dataclass(frozen=True)
class Registration:
    name: str
    hostname: str
    environment: str
    public_key: str
    capabilities: dict[str, Any]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_token(owner_id: str, *, uses: int = 1, ttl_seconds: int = 3600,
               note: str = "") -> tuple[str, EnrollmentToken]:
    """A new token (shown once) and its stored record (which holds only the hash)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    digest = token_hash(token)
    record = EnrollmentToken(digest, owner_id=owner_id, created_ms=int(time.time() * 1000),
                             expires_at=int(time.time()) + ttl_seconds, uses_left=uses,
                             token_id=digest[:16], note=note)
    record.save(condition=EnrollmentToken.token_hash.does_not_exist())
    return token, record


def list_tokens(owner_id: str) -> list[EnrollmentToken]:
    return list(EnrollmentToken.by_owner.query(owner_id, scan_index_forward=False, limit=200))


def revoke_token(owner_id: str, token_id: str) -> EnrollmentToken:
    for record in EnrollmentToken.by_owner.query(owner_id, filter_condition=EnrollmentToken.token_id == token_id):
        record.update(actions=[EnrollmentToken.revoked.set(True)])
        return record
    raise NotFound("No such enrolment token.", "enrollment_token_not_found")


def token_view(record: EnrollmentToken) -> dict[str, Any]:
    return {"token_id": record.token_id, "note": record.note, "created_ms": int(record.created_ms),
            "expires_ms": int(record.expires_at) * 1000, "uses": int(record.uses),
            "uses_left": int(record.uses_left), "revoked": record.revoked}


def agent_id_for(owner_id: str, name: str) -> str:
    return "ag_" + uuid.uuid5(AGENT_NAMESPACE, f"{owner_id}\n{name.lower()}").hex


def parse_registration(body: dict[str, Any]) -> Registration:
    capabilities = parse_capabilities(body)
    public_key = validate.text(body, "public_key", max_len=64)
    try:
        if len(b64url_decode(public_key)) != 32:
            raise ValueError
    except ValueError as exc:
        raise Invalid("'public_key' must be a base64url Ed25519 public key (32 bytes).") from exc
    return Registration(
        name=validate.text(body, "name", max_len=63, pattern=validate.NAME_RE),
        hostname=validate.text(body, "hostname", max_len=253, pattern=HOSTNAME_RE, required=False),
        environment=validate.text(body, "environment", max_len=32, pattern=ENVIRONMENT_RE, required=False),
        public_key=public_key, capabilities=capabilities)


def register(token: str, reg: Registration) -> tuple[Agent, bool]:
    """The host record and whether it may work now (False: waiting for its owner's approval).

    A known name from its own key re-uses the record; from another key it is
    held as a pending re-registration the owner approves or rejects, and the
    old key keeps working meanwhile. Asking again with the pending key only
    reports the wait, even once the token is used up.
    """
    record = _token_record(token)
    owner_id = record.owner_id if record is not None else _fleet_owner(token)
    agent_id = agent_id_for(owner_id, reg.name)
    existing = _get(agent_id)
    if existing is not None and not existing.revoked:
        if reg.public_key in (existing.public_key, existing.pending_public_key):
            return existing, existing.public_key == reg.public_key and existing.approval == "approved"
        _use(token, record)
        _hold_for_approval(existing, reg, token)
        return existing, False
    _use(token, record)
    return _create(agent_id, owner_id, reg), _approval_for(owner_id) == "approved"


def _create(agent_id: str, owner_id: str, reg: Registration) -> Agent:
    agent = Agent(agent_id, owner_id=owner_id, name=reg.name, hostname=reg.hostname,
                  environment=reg.environment, public_key=reg.public_key,
                  capabilities=reg.capabilities, enrolled_ms=int(time.time() * 1000),
                  queue_url=doorbell.create_queue(agent_id), approval=_approval_for(owner_id))
    with store.race() as enrolling:
        agent.save(condition=Agent.agent_id.does_not_exist() | (Agent.revoked == True))  # noqa: E712
    if enrolling.lost:
        raise Conflict(f"A host named '{reg.name}' was just enrolled by another agent.", "host_name_taken") \
            from enrolling.error
    return agent


def _hold_for_approval(agent: Agent, reg: Registration, token: str) -> None:
    agent.update(actions=[Agent.pending_public_key.set(reg.public_key), Agent.pending_token_hash.set(token_hash(token)),
                          Agent.pending_since_ms.set(int(time.time() * 1000))])


def _approval_for(owner_id: str) -> str:
    owner = store.get_or_none(User, owner_id)
    return "pending" if owner is None or owner.require_host_approval else "approved"


def approve(agent: Agent) -> Agent:
    """Let a pending host work, or let a pending re-registration take over its name."""
    if agent.pending_public_key:
        agent.update(actions=[Agent.public_key.set(agent.pending_public_key), Agent.pending_public_key.remove(),
                              Agent.pending_token_hash.remove(), Agent.pending_since_ms.remove(),
                              Agent.approval.set("approved")],
                     condition=Agent.pending_public_key == agent.pending_public_key)
    elif agent.approval == "pending":
        agent.update(actions=[Agent.approval.set("approved")])
    else:
        raise Conflict("Nothing is waiting for approval on this host.", "nothing_pending")
    return agent


def reject(agent: Agent) -> Agent:
    if agent.pending_public_key:
        agent.update(actions=[Agent.pending_public_key.remove(), Agent.pending_token_hash.remove(),
                              Agent.pending_since_ms.remove()])
    elif agent.approval == "pending":
        deregister(agent)
    else:
        raise Conflict("Nothing is waiting for approval on this host.", "nothing_pending")
    return agent


def deregister(agent: Agent) -> None:
    """One write ends the host's access; its inventory and its doorbell queue go with it."""
    agent.update(actions=[Agent.revoked.set(True), Agent.revoked_ms.set(int(time.time() * 1000))])
    with Vm.batch_write() as batch:
        for vm in Vm.query(agent.agent_id):
            batch.delete(vm)
    doorbell.delete_queue(agent.queue_url)


def _get(agent_id: str) -> Agent | None:
    return store.get_or_none(Agent, agent_id, consistent_read=True)


def _refused() -> Forbidden:
    return Forbidden("The enrolment token is unknown, used up or expired.", "enrollment_refused")


def _token_record(token: str) -> EnrollmentToken | None:
    return store.get_or_none(EnrollmentToken, token_hash(token), consistent_read=True)


def _fleet_owner(token: str) -> str:
    """The fleet-wide registration key (off unless configured) enrols hosts for its configured owner."""
    config = settings()
    if config.fleet_key_sha256 and config.fleet_owner_id and hmac.compare_digest(
            token_hash(token), config.fleet_key_sha256):
        return config.fleet_owner_id
    raise _refused()


def _use(token: str, record: EnrollmentToken | None) -> None:
    if record is None:
        return  # the fleet key: not counted
    if record.revoked or record.uses_left <= 0 or record.expires_at <= time.time():
        raise _refused()
    _use_token(token)


def _use_token(token: str) -> None:
    condition = (EnrollmentToken.uses_left > 0) & (EnrollmentToken.expires_at > int(time.time())) \
        & (EnrollmentToken.revoked == False)  # noqa: E712 - a PynamoDB condition, not a comparison
    with store.race() as use:
        EnrollmentToken(token_hash(token)).update(
            actions=[EnrollmentToken.uses_left.add(-1), EnrollmentToken.uses.add(1)], condition=condition)
    if use.lost:
        raise _refused() from use.error
