"""Console session records: one per opened serial console, kept as the index of its transcript.

Output bytes live in S3 (`consoles/<console_id>/<seq>`); the record holds how
far they go (`last_seq`), who may type (`writer_id`), and the operator input
the agent has not taken yet. Input is a list whose first entry has sequence
number `input_base + 1`; the agent's input fetch trims what it has taken, so
the list stays short and the item small however long the session runs.
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

LIVE = frozenset({"opening", "open", "closing"})
RETENTION_SECONDS = 90 * 24 * 3600


class ConsolesByOwner(GlobalSecondaryIndex["Console"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_ms = NumberAttribute(range_key=True)


class ConsolesByVm(GlobalSecondaryIndex["Console"]):
    """A VM's sessions newest first: finds the open one to join, and the history to replay."""

    class Meta:
        index_name = "by_vm"
        projection = AllProjection()

    vm_key = UnicodeAttribute(hash_key=True)  # "<agent_id>/<vm_uuid>"
    created_ms = NumberAttribute(range_key=True)


class Console(Model):
    class Meta:
        table_name = "consoles"

    console_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    vm_uuid = UnicodeAttribute()
    vm_name = UnicodeAttribute()
    vm_key = UnicodeAttribute()
    job_id = UnicodeAttribute()
    status = UnicodeAttribute()
    closed_reason = UnicodeAttribute(null=True)
    created_ms = NumberAttribute()
    closed_ms = NumberAttribute(null=True)
    claim_token = UnicodeAttribute(null=True)  # the attached attempt's; fences a stale agent thread
    last_seq = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    writer_id = UnicodeAttribute(null=True)
    # Each client id handed out, as "<client_id> <holder>": whose session or API key it was issued to.
    clients = ListAttribute(of=UnicodeAttribute, default=list)
    writer_seen = NumberAttribute(default=0)  # Unix seconds the writer last polled
    viewed_at = NumberAttribute(default=0)  # Unix seconds any client last polled (idle timeout)
    agent_seen = NumberAttribute(default=0)  # Unix seconds the agent last called about it
    input = ListAttribute(of=UnicodeAttribute, default=list)
    input_base = NumberAttribute(default=0)
    input_count = NumberAttribute(default=0)
    input_bytes = NumberAttribute(default=0)
    # Inputs appended since the agent last fetched (0: it has seen everything). The append that moves it
    # from 0 rings the host's doorbell; the agent's fetch sets it back to 0 (consoles/logic.py).
    unfetched = NumberAttribute(default=0)
    ttl = NumberAttribute(null=True)  # the record goes when its transcript does (the bucket keeps consoles/ 90 days)
    by_owner = ConsolesByOwner()
    by_vm = ConsolesByVm()
