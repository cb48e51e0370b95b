"""Routes: serial console sessions for operators, and the agent's side of them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .. import pagination, validate
from ..agents import guard as agent_guard
from ..agents import logic as agents
from ..audit import logic as audit
from ..auth import guard
from ..errors import Invalid
from ..vms import logic as vms
from ..web import Call, Reply, route
from . import logic
from .models import Console

bp = Blueprint(__name__)
MAX_WAIT = 20
CURSOR_FIELDS = {"console_id": pagination.string("console_id"), "owner_id": pagination.ANY_KEY,
                 "created_ms": pagination.NUMBER}
VM_CURSOR_FIELDS = {"console_id": pagination.string("console_id"), "vm_key": pagination.ANY_KEY,
                    "created_ms": pagination.NUMBER}


@route(bp, "/api/agents/{agent_id}/vms/{vm}/console", ["POST"], authenticate=guard.operator, max_body=1024)
def open_console(call: Call) -> Reply:
    who = call.principal
    call.json()
    agent = agents.owned(who.user_id, call.params["agent_id"])
    vm = vms.find(agent.agent_id, call.params["vm"])
    console, client_id, writer, created = logic.open_session(agent, vm, logic.holder_of(who))
    audit.record(who.user_id, actor=who.user_id, action="console.open" if created else "console.join",
                 target=f"{agent.agent_id}/{vm.vm_uuid}", source_ip=call.source_ip, user_agent=call.user_agent,
                 detail={"console_id": console.console_id, "job_id": console.job_id, "writer": writer})
    return Reply({"console": logic.view(console), "client_id": client_id, "writer": writer},
                 status=201 if created else 200)


@route(bp, "/api/consoles", authenticate=guard.reader)
def list_consoles(call: Call) -> dict[str, Any]:
    limit = validate.clamp(call.query("limit"), default=50, low=1, high=100, name="limit")
    agent_id = (call.query("agent_id") or "")[:64] or None
    vm_uuid = (call.query("vm_uuid") or "")[:64] or None
    if vm_uuid and not agent_id:
        raise Invalid("'vm_uuid' needs 'agent_id'.")
    by_vm = bool(agent_id and vm_uuid)
    start = pagination.decode(call.query("cursor"), VM_CURSOR_FIELDS if by_vm else CURSOR_FIELDS)
    owner = guard.target_owner(call)
    # A cursor continues the page it came from: this VM's, or this owner's.
    pagination.continues(start, **({"vm_key": f"{agent_id}/{vm_uuid}"} if by_vm else {"owner_id": owner}))
    consoles, last = logic.page(owner, agent_id=agent_id, vm_uuid=vm_uuid, limit=limit, start=start)
    return {"consoles": [logic.view(console) for console in consoles], "next_cursor": pagination.encode(last)}


@route(bp, "/api/consoles/{console_id}", authenticate=guard.reader)
def get_console(call: Call) -> dict[str, Any]:
    return logic.view(logic.settle(logic.owned(guard.target_owner(call), call.params["console_id"])))


@route(bp, "/api/consoles/{console_id}/output", authenticate=guard.reader)
def read_output(call: Call) -> dict[str, Any]:
    console = logic.owned(guard.target_owner(call), call.params["console_id"])
    after = validate.clamp(call.query("after"), default=0, low=0, high=2**53, name="after")
    wait = validate.clamp(call.query("wait"), default=0, low=0, high=MAX_WAIT, name="wait")
    client_id = (call.query("client_id") or "")[:64] or None
    return logic.output(console, after=after, wait=wait, client_id=client_id, holder=logic.holder_of(call.principal))


@route(bp, "/api/consoles/{console_id}/input", ["POST"], authenticate=guard.operator, status=202,
       max_body=32 * 1024)
def send_input(call: Call) -> dict[str, Any]:
    body = call.json()
    client_id = validate.text(body, "client_id", max_len=64)
    data = body.get("data")
    if not isinstance(data, str):
        raise Invalid("'data' must be a string.")
    console = logic.owned(call.principal.user_id, call.params["console_id"])
    return {"seq": logic.send_input(console, client_id, data, logic.holder_of(call.principal))}


@route(bp, "/api/consoles/{console_id}/writer", ["POST"], authenticate=guard.operator, max_body=1024)
def take_writer(call: Call) -> dict[str, Any]:
    who = call.principal
    client_id = validate.text(call.json(), "client_id", max_len=64)
    console = logic.owned(who.user_id, call.params["console_id"])
    writer = logic.take_writer(console, client_id, logic.holder_of(who))
    audit.record(who.user_id, actor=who.user_id, action="console.take_writer", target=console.console_id,
                 outcome="ok" if writer else "refused", source_ip=call.source_ip, user_agent=call.user_agent,
                 detail={"console_id": console.console_id})
    return {"console": logic.view(Console.get(console.console_id, consistent_read=True)), "writer": writer}


@route(bp, "/api/consoles/{console_id}/close", ["POST"], authenticate=guard.operator, max_body=1024)
def close_console(call: Call) -> dict[str, Any]:
    who = call.principal
    console = logic.close(logic.owned(who.user_id, call.params["console_id"]))
    audit.record(who.user_id, actor=who.user_id, action="console.close", target=console.console_id,
                 source_ip=call.source_ip, user_agent=call.user_agent, detail=logic.close_detail(console))
    return logic.view(console)


@route(bp, "/agent/v1/consoles/{console_id}/attach", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def agent_attach(call: Call) -> dict[str, Any]:
    claim_token = validate.text(call.json(), "claim_token", max_len=64)
    return logic.attach(call.principal, call.params["console_id"], claim_token)


@route(bp, "/agent/v1/consoles/{console_id}/output", ["POST"], authenticate=agent_guard.agent, max_body=16384)
def agent_output(call: Call) -> dict[str, Any]:
    body = call.json()
    claim_token = validate.text(body, "claim_token", max_len=64)
    chunks = validate.array(body, "chunks", max_items=logic.UPLOAD_WINDOW, required=False)
    detached = body.get("detached")
    if detached is not None and detached not in logic.AGENT_REASONS:
        raise Invalid(f"'detached' must be one of {', '.join(sorted(logic.AGENT_REASONS))}.")
    return logic.report_output(call.principal, call.params["console_id"], claim_token, chunks, detached)


@route(bp, "/agent/v1/consoles/{console_id}/input", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def agent_input(call: Call) -> dict[str, Any]:
    body = call.json()
    claim_token = validate.text(body, "claim_token", max_len=64)
    after = validate.integer(body, "after", low=0, high=2**53)
    wait = validate.clamp(call.query("wait"), default=0, low=0, high=MAX_WAIT, name="wait")
    return logic.take_input(call.principal, call.params["console_id"], claim_token, after=after, wait=wait)
