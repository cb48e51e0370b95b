"""Routes: hosts for operators, and enrolment + heartbeat for agents."""

from __future__ import annotations

import time
from typing import Any

from chalice import Blueprint

from .. import ids, keys, validate
from ..audit import logic as audit
from ..auth import guard as operator_guard
from ..auth.logic import Principal
from ..changes import logic as changes
from ..errors import Invalid
from ..jobs import dispatch, signing, states
from ..metrics import logic as metrics
from ..settings import settings
from ..vms.models import Vm
from ..web import Call, Reply, route
from . import enrollment, guard, logic
from .models import Agent

bp = Blueprint(__name__)


@route(bp, "/api/agents", authenticate=operator_guard.reader)
def list_agents(call: Call) -> dict[str, Any]:
    owner = operator_guard.target_owner(call)
    return {"agents": [logic.view(a, Vm.count(a.agent_id)) for a in logic.list_owned(owner)]}


@route(bp, "/api/agents/ping", ["POST"], authenticate=operator_guard.reader, max_body=16 * 1024)
def ping_agents(call: Call) -> dict[str, Any]:
    """An open hosts page asks its quiet hosts for a sign of life (logic.ping): those on screen when it names
    them (`agent_ids`), else all. Not audited: pages call it every 40 s, it changes nothing an operator owns,
    and readers may call it."""
    body = call.json()
    only = None
    if "agent_ids" in body:
        only = validate.array(body, "agent_ids", max_items=logic.MAX_PINGED)
        if not all(ids.matches("agent_id", agent_id) for agent_id in only):
            raise Invalid("'agent_ids' must list host ids (ag_ and 32 hex digits).")
    return {"pinged": logic.ping(operator_guard.target_owner(call), only=set(only) if only is not None else None)}


@route(bp, "/api/agents/{agent_id}", authenticate=operator_guard.reader)
def get_agent(call: Call) -> dict[str, Any]:
    agent = logic.owned(operator_guard.target_owner(call), call.params["agent_id"])
    return logic.view(agent, Vm.count(agent.agent_id))


@route(bp, "/api/agents/{agent_id}", ["PATCH"], authenticate=operator_guard.operator, max_body=validate.LABELS_BODY)
def change_agent(call: Call) -> dict[str, Any]:
    who: Principal = call.principal
    agent = logic.owned(who.user_id, call.params["agent_id"], include_pending=True)
    labels = validate.labels(call.json(), "host")
    agent.update(actions=[Agent.labels.set(labels)])
    _audit(call, "agent.update", agent.agent_id, {"labels": labels})
    return logic.view(agent, Vm.count(agent.agent_id))


@route(bp, "/api/agents/{agent_id}", ["DELETE"], authenticate=operator_guard.operator)
def deregister_agent(call: Call) -> dict[str, Any]:
    agent = logic.owned(call.principal.user_id, call.params["agent_id"], include_pending=True)
    enrollment.deregister(agent)
    _audit(call, "agent.deregister", agent.agent_id)
    return {}


@route(bp, "/api/agents/{agent_id}/approve", ["POST"], authenticate=operator_guard.operator, max_body=1024)
def approve_agent(call: Call) -> dict[str, Any]:
    agent = enrollment.approve(logic.owned(call.principal.user_id, call.params["agent_id"], include_pending=True))
    _audit(call, "agent.approve", agent.agent_id)
    return logic.view(agent, Vm.count(agent.agent_id))


@route(bp, "/api/agents/{agent_id}/reject", ["POST"], authenticate=operator_guard.operator, max_body=1024)
def reject_agent(call: Call) -> dict[str, Any]:
    agent = enrollment.reject(logic.owned(call.principal.user_id, call.params["agent_id"], include_pending=True))
    _audit(call, "agent.reject", agent.agent_id)
    return {}


def _audit(call: Call, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    who: Principal = call.principal
    audit.record(who.user_id, actor=who.user_id, action=action, target=target, source_ip=call.source_ip,
                 user_agent=call.user_agent, detail=detail)


@route(bp, "/api/enrollment-tokens", authenticate=operator_guard.reader)
def list_enrollment_tokens(call: Call) -> dict[str, Any]:
    records = enrollment.list_tokens(call.principal.user_id)
    return {"enrollment_tokens": [enrollment.token_view(r) for r in records]}


@route(bp, "/api/enrollment-tokens", ["POST"], authenticate=operator_guard.owner_admin, status=201,
       max_body=4096)
def create_enrollment_token(call: Call) -> dict[str, Any]:
    who: Principal = call.principal
    body = call.json()
    uses = validate.integer(body, "uses", low=1, high=1000) if "uses" in body else 1
    ttl = validate.integer(body, "ttl_seconds", low=60, high=30 * 86400) if "ttl_seconds" in body else 3600
    note = validate.text(body, "note", max_len=200, pattern=validate.LABEL_RE, required=False)
    token, record = enrollment.mint_token(who.user_id, uses=uses, ttl_seconds=ttl, note=note)
    audit.record(who.user_id, actor=who.user_id, action="enrollment_token.create", target=record.token_id,
                 source_ip=call.source_ip, user_agent=call.user_agent, detail={"uses": uses})
    return {**enrollment.token_view(record), "token": token}


@route(bp, "/api/enrollment-tokens/{token_id}", ["DELETE"], authenticate=operator_guard.owner_admin)
def revoke_enrollment_token(call: Call) -> dict[str, Any]:
    who: Principal = call.principal
    record = enrollment.revoke_token(who.user_id, call.params["token_id"][:64])
    audit.record(who.user_id, actor=who.user_id, action="enrollment_token.revoke", target=record.token_id,
                 source_ip=call.source_ip, user_agent=call.user_agent)
    return enrollment.token_view(record)


@route(bp, "/agent/v1/register", ["POST"])
def register(call: Call) -> Reply:
    body = call.json()
    token = validate.text(body, "token", max_len=200)
    agent, approved = enrollment.register(token, enrollment.parse_registration(body))
    audit.record(agent.owner_id, actor=agent.agent_id, action="agent.enroll", target=agent.agent_id,
                 outcome="ok" if approved else "pending_approval", source_ip=call.source_ip,
                 user_agent=call.user_agent)
    changes.bump(agent.owner_id)  # a new host, or one waiting for approval, shows on open pages at once
    ring = keys.load(settings().job_key_secret)
    # The plain list is what a new agent pins (it has nothing to verify an announcement with yet); the
    # announcement tells it the serial to hold, and every later change comes only as one.
    answer = {"agent_id": agent.agent_id, "owner_id": agent.owner_id, "name": agent.name,
              "status": "approved" if approved else "pending_approval",
              "signing_keys": ring.public_keys(), "key_announcement": signing.announce(ring),
              "server_time": int(time.time())}
    return Reply(answer, 200 if approved else 202)


@route(bp, "/agent/v1/deregister", ["POST"], authenticate=guard.agent, max_body=1024)
def deregister_self(call: Call) -> dict[str, Any]:
    agent = call.principal
    enrollment.deregister(agent)
    audit.record(agent.owner_id, actor=agent.agent_id, action="agent.deregister", target=agent.agent_id,
                 source_ip=call.source_ip, user_agent=call.user_agent)
    changes.bump(agent.owner_id)
    return {}


@route(bp, "/agent/v1/heartbeat", ["POST"], authenticate=guard.agent, max_body=1024 * 1024)
def heartbeat(call: Call) -> dict[str, Any]:
    body = call.json()
    logic.heartbeat(call.principal, body)
    dispatch.ring_again(call.principal)  # a lost ring costs a heartbeat's interval, never the job
    reported = body.get("running_jobs")
    running: list[str] = reported if isinstance(reported, list) else []
    return {"server_time": int(time.time()), "cancel": states.cancellations(call.principal, running),
            "key_announcement": signing.announce(keys.load(settings().job_key_secret)),
            **metrics.offer(call.principal, body)}  # a URL for the host's metrics batch when it says one is ready
