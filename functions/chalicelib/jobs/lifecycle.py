"""What agents and operators do to a claimed job: renew its lease, complete
it, cancel it; and the sweeper that retires lapsed leases and undelivered jobs."""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from .. import aws, store, validate
from ..agents.models import Agent
from ..changes import logic as changes
from ..errors import Conflict, Invalid
from ..settings import settings
from ..vms import logic as vms
from . import doorbell, states
from .dispatch import result_object_key, upload_urls
from .models import LIVE_SHARD, LIVE_STATES, QUEUE_SHARD, Job

log = logging.getLogger("fleetvisor.jobs")
EXIT_CODES = (0, 1, 2, 3, 124)
OUTPUTS = ("result",)
PROGRESS_STEPS = ("downloading", "verifying", "creating_disk", "defining", "booting", "first_boot", "done")
MAX_PROGRESS_DETAIL = 200


def parse_progress(value: Any) -> dict[str, Any]:
    """A lease call's `progress` (the deploy contract): a known step, percent 0..100, a short detail."""
    if not isinstance(value, dict) or set(value) - {"step", "percent", "detail"}:
        raise Invalid("'progress' must be an object of step, percent and detail.", "invalid_progress")
    if value.get("step") not in PROGRESS_STEPS:
        raise Invalid(f"'progress.step' must be one of {', '.join(PROGRESS_STEPS)}.", "invalid_progress")
    progress: dict[str, Any] = {"step": value["step"]}
    percent = value.get("percent")
    if percent is not None:
        if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
            raise Invalid("'progress.percent' must be a whole number from 0 to 100.", "invalid_progress")
        progress["percent"] = percent
    detail = value.get("detail")
    if detail is not None:
        if not isinstance(detail, str) or len(detail) > MAX_PROGRESS_DETAIL or not validate.LABEL_RE.match(detail):
            raise Invalid(f"'progress.detail' must be printable text of at most {MAX_PROGRESS_DETAIL} characters.",
                          "invalid_progress")
        progress["detail"] = detail
    return progress


def lease(agent: Agent, job_id: str, claim_token: str, running: bool,
          progress: dict[str, Any] | None = None) -> dict[str, Any]:
    """Renew a held job's lease; with `progress`, also store the agent's report and tell open pages."""
    job = Job(job_id)
    actions = states.renew_actions(running)
    if progress is not None:
        actions.append(Job.progress.set(progress))
    # A throttled renewal is a 503 the agent retries with the same claim, never a 409 that drops the job.
    with store.race() as renewal:
        job.update(actions=actions, condition=states.held_by(agent.agent_id, claim_token))
    if renewal.lost:
        states.raise_lost(agent, job_id)
    if progress is not None:
        changes.bump(job.owner_id)
    return {"lease_expires_at": int(job.lease_expires_at), "cancel": bool(job.cancel_requested)}


def fresh_uploads(agent: Agent, job_id: str, claim_token: str) -> dict[str, Any]:
    """New presigned URLs for a held job, when the first ones expired before use."""
    job = _held_job(agent, job_id, claim_token)
    return {"uploads": upload_urls(job)}


def complete(agent: Agent, job_id: str, body: dict[str, Any]) -> str:
    """Record how an attempt ended: one conditional update, which also returns the job (ALL_NEW).

    Success and plain failure are decided by the report alone, and the update's condition (this
    agent, this claim token, still live) is the proof that the claim holds, so the job is not read
    first. A retry exit (are attempts left?) or a cancelled report (was a cancel asked for?)
    depends on the stored job, which is then read before the update as well.
    """
    claim_token = validate.text(body, "claim_token", max_len=64)
    exit_code = body.get("exit_code")
    if not isinstance(exit_code, int) or isinstance(exit_code, bool) or exit_code not in EXIT_CODES:
        raise Invalid(f"'exit_code' must be one of {list(EXIT_CODES)}.")
    summary = validate.text(body, "summary", max_len=1000, required=False)
    outputs = validate.array(body, "outputs", max_items=len(OUTPUTS), required=False)
    if any(name not in OUTPUTS for name in outputs):
        raise Invalid(f"'outputs' may only name {', '.join(OUTPUTS)}.")
    cancelled = body.get("cancelled") is True
    stored_decides = cancelled or exit_code in states.RETRY_EXITS
    job = _held_job(agent, job_id, claim_token) if stored_decides else Job(job_id)
    status, actions, delay = _outcome(job, exit_code, summary, cancelled) if stored_decides \
        else _final(exit_code, summary)
    if "result" in outputs:
        actions += _accepted_upload(agent, job_id, claim_token)
    with store.race() as report:
        job.update(actions=actions, condition=states.held_by(agent.agent_id, claim_token))
    if report.lost:
        states.raise_lost(agent, job_id)
    if delay is not None:
        doorbell.ring(agent.queue_url, job.job_id, delay)
    _record_vm(agent, job, body.get("vm"))
    return status


def _outcome(job: Job, exit_code: int, summary: str, cancelled: bool) -> tuple[str, list[Any], int | None]:
    if cancelled and job.cancel_requested:
        return "cancelled", states.final_actions("cancelled", exit_code, summary or "Cancelled."), None
    if exit_code in states.RETRY_EXITS and states.retry_left(job):
        actions, delay = states.requeue_actions(job, summary, exit_code)
        return "queued", actions, delay
    return _final(exit_code, summary)


def _final(exit_code: int, summary: str) -> tuple[str, list[Any], int | None]:
    status = "succeeded" if exit_code == 0 else "timed_out" if exit_code == 124 else "failed"
    return status, states.final_actions(status, exit_code, summary), None


def _held_job(agent: Agent, job_id: str, claim_token: str) -> Job:
    job = states.agents_job(agent, job_id)
    if job.claim_token != claim_token or job.status not in LIVE_STATES:
        raise Conflict("This claim no longer holds the job.", "stale_claim")
    return job


def _accepted_upload(agent: Agent, job_id: str, claim_token: str) -> list[Any]:
    """moto checks no size or signature on presigned PUTs, so we check what landed. When the upload
    is missing or too large, a claim that no longer holds the job is told so first (404/409)."""
    key = result_object_key(agent.owner_id, job_id, claim_token)
    try:
        head = aws.s3().head_object(Bucket=settings().bucket, Key=key)
    except ClientError as exc:
        _held_job(agent, job_id, claim_token)
        raise Invalid("The result was not uploaded.", "upload_missing") from exc
    if head["ContentLength"] > settings().result_max_bytes:
        _held_job(agent, job_id, claim_token)
        raise Invalid("The uploaded result is larger than allowed.", "upload_too_large")
    return [Job.result_key.set(key), Job.result_size.set(head["ContentLength"]),
            Job.result_etag.set(head["ETag"].strip('"'))]


def _record_vm(agent: Agent, job: Job, vm: Any) -> None:
    """The VM's new state (and autostart, persistence) as the job left it, at once."""
    if job.vm_uuid is not None and vms.record_job_report(job.agent_id, job.vm_uuid, vm):
        changes.bump(job.owner_id)  # other operators' open pages, not only the one that asked


def cancel(job: Job) -> Job:
    """A queued job is cancelled at once; a claimed or running one is asked to stop."""
    if job.status == "queued":
        ended = states.finish_unclaimed(job.job_id, "cancelled", "Cancelled before it ran.")
        if ended is not None:
            return ended
    with store.race() as asking:
        job.update(actions=[Job.cancel_requested.set(True)], condition=Job.status.is_in(*LIVE_STATES))
    if asking.lost:
        job.refresh(consistent_read=True)
        if job.status == "queued":
            return cancel(job)
        raise Conflict(f"The job has already ended ({job.status}).", "job_final") from asking.error
    agent = _agent(job.agent_id)
    if agent is not None:
        # Wakes the agent's long poll, which answers with the cancel at once.
        doorbell.ring(agent.queue_url, doorbell.CANCEL_PREFIX + job.job_id)
    return job


def sweep(now: int | None = None) -> dict[str, int]:
    """Retire lapsed leases and undelivered jobs: one query each, on sparse indexes.

    A throttled write ends the run with StoreBusy rather than being skipped: the scheduler logs the
    failure, and what this run did not retire is still found by the next run, a minute later.
    """
    now = int(time.time()) if now is None else now
    counts = {"lapsed": 0, "expired": 0}
    for job in Job.by_lease.query(LIVE_SHARD, Job.lease_expires_at < now):
        if states.lapse(job, _agent(job.agent_id)) is not None:
            counts["lapsed"] += 1
    for job in Job.by_deadline.query(QUEUE_SHARD, Job.deliver_by < now):
        if states.finish_unclaimed(job.job_id, "expired", "Not claimed within its delivery window.") is not None:
            counts["expired"] += 1
    if any(counts.values()):
        log.info("sweep: %s", counts)
    return counts


def _agent(agent_id: str) -> Agent | None:
    return store.get_or_none(Agent, agent_id)

