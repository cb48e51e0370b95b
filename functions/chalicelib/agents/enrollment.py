"""Enrolment: one-use (or n-use) tokens that let a host join its owner's fleet.

A host's id is derived from (owner, name), so the conditional put that creates
it is also what keeps names unique per owner. The same name from the same key
re-uses the record and its history; from a different key it is refused (the
agent-protocol work turns that into an approval queue).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from .. import validate
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..jobs import doorbell
from ..keys import b64url_decode
from .models import Agent, EnrollmentToken

TOKEN_PREFIX = "fvet_"
AGENT_NAMESPACE = uuid.UUID("1f0c5b8e-7d52-4c1e-9a0b-6e2f3d4c5b6a")
ENVIRONMENT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
MAX_CAPABILITIES = 16 * 1024


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
    capabilities = validate.mapping(body, "capabilities", required=False)
    if len(json.dumps(capabilities)) > MAX_CAPABILITIES:
        raise Invalid(f"'capabilities' may be at most {MAX_CAPABILITIES} bytes of JSON.")
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


def register(token: str, reg: Registration) -> Agent:
    owner_id = _token_owner(token)
    agent_id = agent_id_for(owner_id, reg.name)
    existing = _get(agent_id)
    if existing is not None and existing.public_key != reg.public_key:
        raise Conflict(f"A host named '{reg.name}' is enrolled with another key.", "host_name_taken")
    _use_token(token)
    if existing is not None and not existing.revoked:
        return existing
    agent = Agent(agent_id, owner_id=owner_id, name=reg.name, hostname=reg.hostname,
                  environment=reg.environment, public_key=reg.public_key,
                  capabilities=reg.capabilities, enrolled_ms=int(time.time() * 1000),
                  queue_url=doorbell.create_queue(agent_id))
    try:
        agent.save(condition=Agent.agent_id.does_not_exist() | (Agent.public_key == reg.public_key))
    except PutError as exc:
        raise Conflict(f"A host named '{reg.name}' is enrolled with another key.", "host_name_taken") from exc
    return agent


def _get(agent_id: str) -> Agent | None:
    try:
        return Agent.get(agent_id, consistent_read=True)
    except DoesNotExist:
        return None


def _token_owner(token: str) -> str:
    refused = Forbidden("The enrolment token is unknown, used up or expired.", "enrollment_refused")
    try:
        record = EnrollmentToken.get(token_hash(token), consistent_read=True)
    except DoesNotExist as exc:
        raise refused from exc
    if record.revoked or record.uses_left <= 0 or record.expires_at <= time.time():
        raise refused
    return record.owner_id


def _use_token(token: str) -> None:
    condition = (EnrollmentToken.uses_left > 0) & (EnrollmentToken.expires_at > int(time.time())) \
        & (EnrollmentToken.revoked == False)  # noqa: E712 - a PynamoDB condition, not a comparison
    try:
        EnrollmentToken(token_hash(token)).update(
            actions=[EnrollmentToken.uses_left.add(-1), EnrollmentToken.uses.add(1)], condition=condition)
    except UpdateError as exc:
        raise Forbidden("The enrolment token is unknown, used up or expired.", "enrollment_refused") from exc
