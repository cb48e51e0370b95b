"""The VM inventory, as heartbeats and finished jobs report it."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model


class Vm(Model):
    class Meta:
        table_name = "vms"

    agent_id = UnicodeAttribute(hash_key=True)
    vm_uuid = UnicodeAttribute(range_key=True)
    owner_id = UnicodeAttribute()
    name = UnicodeAttribute()
    state = UnicodeAttribute()
    # Null where the agent did not say (agents before these fields): shown as unknown, never guessed.
    state_reason = UnicodeAttribute(null=True)
    autostart = BooleanAttribute(null=True)
    persistent = BooleanAttribute(null=True)
    vcpus = NumberAttribute(default=0)
    memory_kib = NumberAttribute(default=0)
    updated_ms = NumberAttribute()
