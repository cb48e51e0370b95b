"""Routes: a VM's statistics series for its page's charts, and live sampling while the page is open."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..agents import logic as agents
from ..agents.models import Agent
from ..auth import guard
from ..vms import logic as vms
from ..vms.models import Vm
from ..vms.routes import reader
from ..web import Call, route
from . import logic

bp = Blueprint(__name__)


def _host_and_vm(call: Call) -> tuple[Agent, Vm]:
    agent = agents.check_owned(call.ahead[Agent], guard.target_owner(call))
    return agent, vms.find(agent.agent_id, call.params["vm"], call.ahead.get(Vm))


@route(bp, "/api/agents/{agent_id}/vms/{vm}/metrics", authenticate=reader)
def vm_metrics(call: Call) -> dict[str, Any]:
    """CPU, memory, disk and network series over `range` (hour, day, week), from the host's batches."""
    range_name = logic.parse_range(call.query("range"))
    agent, vm = _host_and_vm(call)
    return logic.series(agent.agent_id, vm.vm_uuid, range_name)


@route(bp, "/api/agents/{agent_id}/vms/{vm}/metrics/live", ["POST"], authenticate=reader, max_body=1024)
def watch_vm(call: Call) -> dict[str, Any]:
    """Ask the host for the VM's fine samples for a while (logic.watch). Not audited: an open VM page asks
    every minute while visible, it changes nothing an operator owns, and readers may ask (like pings)."""
    agent, vm = _host_and_vm(call)
    return logic.watch(agent, vm.vm_uuid)
