"""Routes: the fleet's VMs, a host's VMs, their labels and the lifecycle actions on them.

Each route reads the host it addresses (and the VM, when the path names it by
UUID, as the web app does) in the same store request as the caller's
credentials (`auth.guard.requires(ahead=...)`).
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from .. import pagination, store, validate
from ..agents import logic as agents
from ..agents.models import Agent
from ..audit import logic as audit
from ..auth import guard
from ..errors import Invalid
from ..jobs import logic as jobs
from ..jobs.models import Job
from ..web import Call, Reply, route
from . import actions, logic
from .models import Vm

bp = Blueprint(__name__)
# A fleet page's cursor: the by_owner index's key (owner, VM name) and the table's (host, UUID).
FLEET_CURSOR = {"owner_id": pagination.ANY_KEY, "name": ("S", re.compile(rf"[\s\S]{{1,{logic.MAX_VM_NAME}}}")),
                "agent_id": pagination.string("agent_id"), "vm_uuid": ("S", validate.UUID_RE)}


def host_and_vm(call: Call) -> list[store.ItemKey]:
    agent_id = call.params["agent_id"][:64]
    vm = call.params.get("vm", "").lower()
    return [(Agent, agent_id)] + ([(Vm, agent_id, vm)] if validate.UUID_RE.match(vm) else [])


reader = guard.requires("read", ahead=host_and_vm)
operator = guard.requires("operate", ahead=host_and_vm)


def host_of(call: Call, owner_id: str) -> Agent:
    return agents.check_owned(call.ahead[Agent], owner_id)


def _vm(call: Call, agent: Agent) -> Vm:
    return logic.find(agent.agent_id, call.params["vm"], call.ahead.get(Vm))


@route(bp, "/api/vms", authenticate=guard.reader)
def list_fleet(call: Call) -> dict[str, Any]:
    """Every VM of the owner on all their hosts, by name, a page at a time (vms/logic.py: the fleet list)."""
    limit = validate.clamp(call.query("limit"), default=500, low=1, high=1000, name="limit")
    narrow = logic.FleetFilter.parse(call.query)
    start = pagination.decode(call.query("cursor"), FLEET_CURSOR)
    owner = guard.target_owner(call)
    pagination.continues(start, owner_id=owner)
    names = agents.host_names(owner)
    found, last = logic.fleet_page(owner, names, narrow, limit=limit, start=start)
    return {"vms": [{**vm, "host_name": names[vm["agent_id"]]} for vm in found], "next_cursor": pagination.encode(last)}


@route(bp, "/api/agents/{agent_id}/vms", authenticate=reader)
def list_vms(call: Call) -> dict[str, Any]:
    agent = host_of(call, guard.target_owner(call))
    return {"vms": [logic.view(vm) for vm in logic.list_vms(agent.agent_id)]}


@route(bp, "/api/agents/{agent_id}/vms/{vm}", authenticate=reader)
def get_vm(call: Call) -> dict[str, Any]:
    agent = host_of(call, guard.target_owner(call))
    return logic.view(_vm(call, agent))


@route(bp, "/api/agents/{agent_id}/vms/{vm}", ["PATCH"], authenticate=operator, max_body=validate.LABELS_BODY)
def change_vm(call: Call) -> dict[str, Any]:
    """Set a VM's labels, as PATCH /api/agents/{id} sets a host's; they stay with its UUID."""
    who = call.principal
    labels = validate.labels(call.json(), "VM")
    agent = host_of(call, who.user_id)
    vm = logic.set_labels(_vm(call, agent), labels)
    audit.record(who.user_id, actor=who.user_id, action="vm.update", target=f"{agent.agent_id}/{vm.vm_uuid}",
                 source_ip=call.source_ip, user_agent=call.user_agent, detail={"labels": labels})
    return logic.view(vm)


@route(bp, "/api/agents/{agent_id}/vms/{vm}/actions", ["POST"], authenticate=operator, status=202, max_body=4096)
def vm_action(call: Call) -> Reply:
    agent = host_of(call, call.principal.user_id)
    vm = _vm(call, agent)
    action, op, args = actions.job_for(call.json(), vm)
    return queue(call, agent, op, args, audit_as=(f"vm.{action}", f"{agent.agent_id}/{vm.vm_uuid}"),
                  vm_uuid=vm.vm_uuid)


@route(bp, "/api/agents/{agent_id}/capabilities", ["POST"], authenticate=operator, status=202, max_body=1024)
def refresh_capabilities(call: Call) -> Reply:
    """Ask the host for its full capabilities (pools, networks, versions, KVM); the job's result has them."""
    agent = host_of(call, call.principal.user_id)
    return queue(call, agent, "host.capabilities", {}, audit_as=("host.capabilities", agent.agent_id))


def queue(call: Call, agent: Agent, op: str, args: dict[str, Any], *, audit_as: tuple[str, str],
          vm_uuid: str | None = None, audit_detail: dict[str, Any] | None = None,
          secrets: dict[str, str] | None = None, fingerprint: Any = None) -> Reply:
    """Create the job with its audit record (one store write), ring the host, answer 202 with the job.

    `secrets` are sealed into the job (sealing.py); `fingerprint` identifies the request for an
    idempotency key where the arguments cannot (jobs.logic.create)."""
    who = call.principal
    action, target = audit_as

    def audited(job: Job) -> list[Any]:
        return [audit.entry(who.user_id, actor=who.user_id, action=action, target=target, source_ip=call.source_ip,
                            user_agent=call.user_agent, detail={**(audit_detail or {}), "job_id": job.job_id})]

    job, created = jobs.create(agent, op, args, vm_uuid=vm_uuid, idempotency_key=idempotency_key(call),
                               records=audited, secrets=secrets, fingerprint=fingerprint)
    return Reply(jobs.view(job), headers={} if created else {"Idempotent-Replayed": "true"})


def idempotency_key(call: Call) -> str | None:
    key = call.request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not validate.LABEL_RE.match(key):
        raise Invalid("'Idempotency-Key' must be 1 to 200 printable characters.")
    return str(key)
