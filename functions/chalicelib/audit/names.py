"""The names behind the ids an audit page holds: an account's email for `usr_…`, a host's name for
`ag_…`, and "VM on host" for `ag_…/<vm uuid>`, read in one batch per kind for the page, so the Audit page
shows people and machines rather than ids. Hosts and VMs are named only for their own owner's trail; an
id whose object is gone (or that is not of these forms) gets no name and is shown as it is."""

from __future__ import annotations

from collections.abc import Iterable

from .. import ids, validate
from ..agents.models import Agent
from ..auth.models import User
from ..vms.models import Vm
from .models import AuditRecord


def _ids(records: Iterable[AuditRecord]) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    users: set[str] = set()
    agents: set[str] = set()
    vms: set[tuple[str, str]] = set()
    for record in records:
        for value in (record.actor, record.target):
            agent_id, _, vm_uuid = (value or "").partition("/")
            if ids.FORMS["user_id"].matches(value):
                users.add(value)
            elif ids.FORMS["agent_id"].matches(agent_id):
                agents.add(agent_id)
                if validate.UUID_RE.match(vm_uuid):
                    vms.add((agent_id, vm_uuid))
    return users, agents, vms


def of(owner_id: str, records: list[AuditRecord]) -> dict[str, str]:
    """{id: name} for the accounts, hosts and VMs these records (of `owner_id`'s trail) mention."""
    users, agents, vms = _ids(records)
    names = {user.user_id: user.email for user in User.batch_get(users) if user.email}
    hosts = {agent.agent_id: agent.name for agent in Agent.batch_get(agents) if agent.owner_id == owner_id}
    names.update(hosts)
    for vm in Vm.batch_get([key for key in vms if key[0] in hosts]):
        names[f"{vm.agent_id}/{vm.vm_uuid}"] = f"{vm.name} on {hosts[vm.agent_id]}"
    return names
