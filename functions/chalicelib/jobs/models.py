"""Job records. `status_created` ("queued#<created_ms>") lets an agent's poll
find its queued jobs oldest first with one query."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

FINAL_STATES = frozenset({"succeeded", "failed", "timed_out", "cancelled", "expired"})
LIVE_STATES = frozenset({"claimed", "running"})
LIVE_SHARD = "live"
QUEUE_SHARD = "queued"


class JobsByAgentStatus(GlobalSecondaryIndex["Job"]):
    class Meta:
        index_name = "by_agent_status"
        projection = AllProjection()

    agent_id = UnicodeAttribute(hash_key=True)
    status_created = UnicodeAttribute(range_key=True)


class JobsByOwner(GlobalSecondaryIndex["Job"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_ms = NumberAttribute(range_key=True)


class JobsByLease(GlobalSecondaryIndex["Job"]):
    """Sparse: only claimed and running jobs carry `live_shard`, so the sweeper
    finds lapsed leases with one query instead of scanning."""

    class Meta:
        index_name = "by_lease"
        projection = AllProjection()

    live_shard = UnicodeAttribute(hash_key=True)
    lease_expires_at = NumberAttribute(range_key=True)


class JobsByDeadline(GlobalSecondaryIndex["Job"]):
    """Sparse: only queued jobs carry `queue_shard`, for expiring undelivered ones."""

    class Meta:
        index_name = "by_deadline"
        projection = AllProjection()

    queue_shard = UnicodeAttribute(hash_key=True)
    deliver_by = NumberAttribute(range_key=True)


class Job(Model):
    class Meta:
        table_name = "jobs"

    job_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    op = UnicodeAttribute()
    args = JSONAttribute()
    vm_uuid = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    status_created = UnicodeAttribute()
    created_ms = NumberAttribute()
    claimed_ms = NumberAttribute(null=True)
    started_ms = NumberAttribute(null=True)
    finished_ms = NumberAttribute(null=True)
    deliver_by = NumberAttribute()
    attempt = NumberAttribute(default=0)
    max_attempts = NumberAttribute(default=3)
    lease_expires_at = NumberAttribute(null=True)
    claim_token = UnicodeAttribute(null=True)
    exit_code = NumberAttribute(null=True)
    summary = UnicodeAttribute(null=True)
    result_key = UnicodeAttribute(null=True)
    result_size = NumberAttribute(null=True)
    result_etag = UnicodeAttribute(null=True)
    ttl = NumberAttribute(null=True)
    not_before = NumberAttribute(null=True)
    cancel_requested = BooleanAttribute(default=False)
    request_hash = UnicodeAttribute(null=True)
    # Secrets the arguments stand in for by placeholder, encrypted (sealing.py); opened only to sign the job.
    sealed = UnicodeAttribute(null=True)
    # The agent's latest progress report on a long job (lifecycle.parse_progress), shown on job reads.
    progress = JSONAttribute(null=True)
    live_shard = UnicodeAttribute(null=True)
    queue_shard = UnicodeAttribute(null=True)
    by_agent_status = JobsByAgentStatus()
    by_owner = JobsByOwner()
    by_lease = JobsByLease()
    by_deadline = JobsByDeadline()
