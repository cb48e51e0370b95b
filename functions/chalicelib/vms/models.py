"""The VM inventory, as heartbeats and finished jobs report it, and the labels operators give VMs.

An item is keyed by host and VM UUID, so what an operator sets on it (its
labels) stays with the VM when libvirt renames it. Heartbeats write only the
fields they report (vms/logic.py), never the labels.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class VmsByOwner(GlobalSecondaryIndex["Vm"]):
    """The fleet list: one owner's VMs on all their hosts, by name (GET /api/vms)."""

    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


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
    # The VM's IP addresses as its host last reported them (a hint: DHCP leases); null: not reported.
    addresses = ListAttribute(of=UnicodeAttribute, null=True)
    labels = JSONAttribute(default=dict)
    updated_ms = NumberAttribute()
    by_owner = VmsByOwner()
