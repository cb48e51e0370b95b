"""Routes: a host's VMs and the lifecycle actions on them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..agents import logic as agents
from ..audit import logic as audit
from ..auth import guard
from ..jobs import logic as jobs
from ..web import Call, route
from . import logic

bp = Blueprint(__name__)


@route(bp, "/api/agents/{agent_id}/vms", authenticate=guard.reader)
def list_vms(call: Call) -> dict[str, Any]:
    agent = agents.owned(guard.target_owner(call), call.params["agent_id"])
    return {"vms": [logic.view(vm) for vm in logic.list_vms(agent.agent_id)]}


@route(bp, "/api/agents/{agent_id}/vms/{vm}", authenticate=guard.reader)
def get_vm(call: Call) -> dict[str, Any]:
    agent = agents.owned(guard.target_owner(call), call.params["agent_id"])
    return logic.view(logic.find(agent.agent_id, call.params["vm"]))


@route(bp, "/api/agents/{agent_id}/vms/{vm}/actions", ["POST"], authenticate=guard.operator,
       status=202, max_body=4096)
def vm_action(call: Call) -> dict[str, Any]:
    who = call.principal
    agent = agents.owned(who.user_id, call.params["agent_id"])
    vm = logic.find(agent.agent_id, call.params["vm"])
    action = call.json().get("action")
    op = logic.operation_for(action)
    job = jobs.create(agent, op, {"vm_uuid": vm.vm_uuid}, vm_uuid=vm.vm_uuid)
    audit.record(who.user_id, actor=who.user_id, action=f"vm.{action}", target=f"{agent.agent_id}/{vm.vm_uuid}",
                 source_ip=call.source_ip, user_agent=call.user_agent, detail={"job_id": job.job_id})
    return jobs.view(job)
