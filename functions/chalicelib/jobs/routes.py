"""Routes: job history and cancellation for operators; poll, lease and
complete for agents; and the scheduled sweep of lapsed leases."""

from __future__ import annotations

import time
from typing import Any

from chalice import Blueprint, Rate

from .. import validate
from ..agents import guard as agent_guard
from ..audit import logic as audit
from ..auth import guard
from ..errors import Invalid
from ..settings import settings
from ..web import Call, route
from . import dispatch, doorbell, lifecycle, logic, queue_access

bp = Blueprint(__name__)
STATUSES = ("queued", "claimed", "running", "succeeded", "failed", "timed_out", "cancelled", "expired")


@route(bp, "/api/jobs", authenticate=guard.reader)
def list_jobs(call: Call) -> dict[str, Any]:
    limit = validate.clamp(call.query("limit"), default=50, low=1, high=100, name="limit")
    status = call.query("status")
    if status and status not in STATUSES:
        raise Invalid(f"'status' must be one of {', '.join(STATUSES)}.")
    jobs = logic.list_owned(guard.target_owner(call), (call.query("agent_id") or "")[:64] or None, status, limit)
    return {"jobs": [logic.view(job) for job in jobs]}


@route(bp, "/api/jobs/{job_id}", authenticate=guard.reader)
def get_job(call: Call) -> dict[str, Any]:
    return logic.view(logic.owned(guard.target_owner(call), call.params["job_id"]), with_links=True)


@route(bp, "/api/jobs/{job_id}/result", authenticate=guard.reader)
def get_result(call: Call) -> Any:
    return logic.read_result(logic.owned(guard.target_owner(call), call.params["job_id"]))


@route(bp, "/api/jobs/{job_id}/cancel", ["POST"], authenticate=guard.operator, max_body=1024)
def cancel_job(call: Call) -> dict[str, Any]:
    who = call.principal
    job = lifecycle.cancel(logic.owned(who.user_id, call.params["job_id"]))
    audit.record(who.user_id, actor=who.user_id, action="job.cancel", target=job.job_id,
                 source_ip=call.source_ip, user_agent=call.user_agent, detail={"status": job.status})
    return logic.view(job)


@route(bp, "/agent/v1/poll", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def poll(call: Call) -> dict[str, Any]:
    wait = validate.clamp(call.query("wait"), default=settings().max_poll_wait, low=0,
                          high=settings().max_poll_wait, name="wait")
    body = call.json()
    max_jobs = validate.integer(body, "max_jobs", low=1, high=10) if "max_jobs" in body else 1
    # Rings are hints: any that is not one the control plane sends (a job id, `cancel:` and one) is dropped.
    rung = None
    if "rung" in body:
        rung = [r for r in validate.array(body, "rung", max_items=10)
                if isinstance(r, str) and doorbell.RING_RE.fullmatch(r)]
    jobs, cancels = dispatch.poll(call.principal, wait, max_jobs, rung)
    return {"jobs": jobs, "cancel": cancels, "server_time": int(time.time())}


@route(bp, "/agent/v1/doorbell", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def doorbell_access(call: Call) -> dict[str, Any]:
    """Credentials for the agent's own queue, so it waits there instead of in a Lambda (queue_access.py)."""
    return {**queue_access.grant(call.principal), "server_time": int(time.time())}


@route(bp, "/agent/v1/jobs/{job_id}/lease", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def renew_lease(call: Call) -> dict[str, Any]:
    body = call.json()
    claim_token = validate.text(body, "claim_token", max_len=64)
    progress = lifecycle.parse_progress(body["progress"]) if body.get("progress") is not None else None
    return lifecycle.lease(call.principal, call.params["job_id"], claim_token, body.get("running") is True, progress)


@route(bp, "/agent/v1/jobs/{job_id}/uploads", ["POST"], authenticate=agent_guard.agent, max_body=1024)
def renew_uploads(call: Call) -> dict[str, Any]:
    claim_token = validate.text(call.json(), "claim_token", max_len=64)
    return lifecycle.fresh_uploads(call.principal, call.params["job_id"], claim_token)


@route(bp, "/agent/v1/jobs/{job_id}/complete", ["POST"], authenticate=agent_guard.agent, max_body=16384)
def complete(call: Call) -> dict[str, Any]:
    return {"status": lifecycle.complete(call.principal, call.params["job_id"], call.json())}


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_jobs(event: Any) -> dict[str, int]:
    return lifecycle.sweep()
