"""Routes: job history for operators; poll, lease and complete for agents."""

from __future__ import annotations

import time
from typing import Any

from chalice import Blueprint

from .. import validate
from ..agents import guard as agent_guard
from ..auth import guard
from ..settings import settings
from ..web import Call, route
from . import logic

bp = Blueprint(__name__)


@route(bp, "/api/jobs", authenticate=guard.reader)
def list_jobs(call: Call) -> dict[str, Any]:
    limit = validate.clamp(call.query("limit"), default=50, low=1, high=100, name="limit")
    agent_id = call.query("agent_id")
    jobs = logic.list_owned(guard.target_owner(call), agent_id, limit)
    return {"jobs": [logic.view(job) for job in jobs]}


@route(bp, "/api/jobs/{job_id}", authenticate=guard.reader)
def get_job(call: Call) -> dict[str, Any]:
    return logic.view(logic.owned(guard.target_owner(call), call.params["job_id"]), with_links=True)


@route(bp, "/agent/v1/poll", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def poll(call: Call) -> dict[str, Any]:
    wait = validate.clamp(call.query("wait"), default=settings().max_poll_wait, low=0,
                          high=settings().max_poll_wait, name="wait")
    body = call.json()
    max_jobs = validate.integer(body, "max_jobs", low=1, high=10) if "max_jobs" in body else 1
    return {"jobs": logic.poll(call.principal, wait, max_jobs), "server_time": int(time.time())}


@route(bp, "/agent/v1/jobs/{job_id}/lease", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def renew_lease(call: Call) -> dict[str, Any]:
    body = call.json()
    claim_token = validate.text(body, "claim_token", max_len=64)
    running = body.get("running") is True
    return logic.lease(call.principal, call.params["job_id"], claim_token, running)


@route(bp, "/agent/v1/jobs/{job_id}/complete", ["POST"], authenticate=agent_guard.agent, max_body=16384)
def complete(call: Call) -> dict[str, Any]:
    return {"status": logic.complete(call.principal, call.params["job_id"], call.json())}
