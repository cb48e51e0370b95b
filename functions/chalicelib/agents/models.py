"""Hosts (agents) and the enrolment tokens that let them join."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model


class AgentsByOwner(GlobalSecondaryIndex["Agent"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


class AgentNamesByOwner(GlobalSecondaryIndex["Agent"]):
    """An owner's hosts with only their names and standing, for the fleet list (GET /api/vms): no
    capabilities to read, and nothing a heartbeat writes (last_seen_ms), so idle hosts cost it nothing."""

    class Meta:
        index_name = "names_by_owner"
        projection = IncludeProjection(["approval", "revoked"])

    owner_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


class Agent(Model):
    class Meta:
        table_name = "agents"

    agent_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    name = UnicodeAttribute()
    hostname = UnicodeAttribute(default="")
    environment = UnicodeAttribute(default="")
    public_key = UnicodeAttribute()
    queue_url = UnicodeAttribute(default="")
    capabilities = JSONAttribute(default=dict)
    enrolled_ms = NumberAttribute()
    last_seen_ms = NumberAttribute(default=0)
    pinged_ms = NumberAttribute(null=True)  # when an open page last asked the host for a sign of life (logic.ping)
    revoked = BooleanAttribute(default=False)
    revoked_ms = NumberAttribute(null=True)
    approval = UnicodeAttribute(default="approved")
    pending_public_key = UnicodeAttribute(null=True)
    pending_token_hash = UnicodeAttribute(null=True)
    pending_since_ms = NumberAttribute(null=True)
    labels = JSONAttribute(default=dict)
    instance = UnicodeAttribute(null=True)  # the agent process whose polls may claim (agents/instances.py)
    by_owner = AgentsByOwner()
    names_by_owner = AgentNamesByOwner()


class EnrollmentTokensByOwner(GlobalSecondaryIndex["EnrollmentToken"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_ms = NumberAttribute(range_key=True)


class EnrollmentToken(Model):
    """Only the SHA-256 of the token is stored; the token itself is shown once."""

    class Meta:
        table_name = "enrollment-tokens"

    token_hash = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    created_ms = NumberAttribute()
    expires_at = NumberAttribute()
    uses_left = NumberAttribute()
    uses = NumberAttribute(default=0)
    revoked = BooleanAttribute(default=False)
    token_id = UnicodeAttribute(default="")
    note = UnicodeAttribute(default="")
    by_owner = EnrollmentTokensByOwner()
