"""The job lifecycle, without HTTP: create → claim (signed) → lease → complete.

Every transition is one conditional write, so exactly one claimant wins and
a stale holder (whose `claim_token` no longer matches) loses with a 409.
Times in the store are server time only: Unix seconds for leases and
deadlines, milliseconds for the timeline operators see.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, UpdateError

from .. import aws, keys, validate
from ..agents.models import Agent
from ..errors import Conflict, Invalid, NotFound
from ..settings import settings
from ..vms import logic as vms
from . import doorbell, signing
from .models import FINAL_STATES, LIVE_STATES, Job

EXIT_STATUS = {0: "succeeded", 1: "failed", 2: "failed", 3: "failed", 124: "timed_out"}
OUTPUTS = ("result",)
RETENTION_SECONDS = 30 * 24 * 3600


def _now_ms() -> int:
    return int(time.time() * 1000)


def create(agent: Agent, op: str, args: dict[str, Any], vm_uuid: str | None = None) -> Job:
    config = settings()
    now_ms = _now_ms()
    job = Job("job_" + uuid.uuid4().hex, agent_id=agent.agent_id, owner_id=agent.owner_id, op=op,
              args=args, vm_uuid=vm_uuid, status="queued", status_created=f"queued#{now_ms:013d}",
              created_ms=now_ms, deliver_by=now_ms // 1000 + config.delivery_seconds,
              max_attempts=config.max_attempts, ttl=now_ms // 1000 + RETENTION_SECONDS)
    job.save(condition=Job.job_id.does_not_exist())
    doorbell.ring(agent.queue_url, job.job_id)
    return job


def poll(agent: Agent, wait: int, max_jobs: int) -> list[dict[str, Any]]:
    """Claim up to `max_jobs` queued jobs, waiting on the doorbell up to `wait` seconds."""
    deadline = time.monotonic() + wait
    claimed = _claim_queued(agent, max_jobs)
    while not claimed:
        remaining = int(deadline - time.monotonic())
        if remaining <= 0:
            break
        rung = doorbell.wait(agent.queue_url, remaining)
        claimed = [job for job in (_try_claim(job_id, agent.agent_id) for job_id in rung[:max_jobs]) if job]
        if not claimed:
            # The doorbell is only a hint: look at the table once per wait period.
            claimed = _claim_queued(agent, max_jobs)
    return [_deliver(job) for job in claimed]


def _claim_queued(agent: Agent, max_jobs: int) -> list[Job]:
    claimed: list[Job] = []
    now = int(time.time())
    for queued in Job.by_agent_status.query(agent.agent_id, Job.status_created.startswith("queued#"),
                                            limit=max_jobs * 2):
        if queued.deliver_by < now:
            _finish_unclaimed(queued.job_id, "expired", "Not claimed within its delivery window.")
            continue
        job = _try_claim(queued.job_id, agent.agent_id)
        if job is not None:
            claimed.append(job)
        if len(claimed) >= max_jobs:
            break
    return claimed


def _try_claim(job_id: str, agent_id: str) -> Job | None:
    now_ms = _now_ms()
    job = Job(job_id)
    try:
        job.update(actions=[
            Job.status.set("claimed"), Job.status_created.set(f"claimed#{now_ms:013d}"),
            Job.attempt.add(1), Job.claim_token.set(secrets.token_urlsafe(18)),
            Job.lease_expires_at.set(now_ms // 1000 + settings().lease_seconds),
            Job.claimed_ms.set(now_ms)],
            condition=(Job.status == "queued") & (Job.agent_id == agent_id) & (Job.deliver_by >= now_ms // 1000))
    except UpdateError:
        return None  # someone else's, already claimed, or gone: not ours to run
    return job


def _finish_unclaimed(job_id: str, status: str, summary: str) -> None:
    now_ms = _now_ms()
    try:
        Job(job_id).update(actions=[Job.status.set(status), Job.summary.set(summary),
                                    Job.status_created.set(f"{status}#{now_ms:013d}"),
                                    Job.finished_ms.set(now_ms)],
                           condition=Job.status == "queued")
    except UpdateError:
        return


def _deliver(job: Job) -> dict[str, Any]:
    config = settings()
    kid, key = keys.load(config.job_key_secret).signer()
    attempt = int(job.attempt)
    expires_at = min(int(job.lease_expires_at), int(job.deliver_by))
    body = signing.payload(job_id=job.job_id, agent_id=job.agent_id, op=job.op, args=job.args,
                           issued_at=int(time.time()), expires_at=expires_at, attempt=attempt, kid=kid)
    result_key = result_object_key(job, attempt)
    url = aws.s3().generate_presigned_url("put_object", Params={"Bucket": config.bucket, "Key": result_key},
                                          ExpiresIn=config.upload_url_seconds)
    return {"job_id": job.job_id, "envelope": signing.envelope(body, kid, key), "claim_token": job.claim_token,
            "lease_expires_at": int(job.lease_expires_at),
            "uploads": {"result": {"url": url, "key": result_key, "max_bytes": config.result_max_bytes,
                                   "expires_at": int(time.time()) + config.upload_url_seconds}}}


def result_object_key(job: Job, attempt: int) -> str:
    """Built by the server from ids only; never taken from the agent."""
    return f"results/{job.owner_id}/{job.job_id}/{attempt}/result.json"


def lease(agent: Agent, job_id: str, claim_token: str, running: bool) -> dict[str, Any]:
    now_ms = _now_ms()
    job = Job(job_id)
    actions: list[Any] = [Job.lease_expires_at.set(now_ms // 1000 + settings().lease_seconds)]
    if running:
        actions += [Job.status.set("running"), Job.status_created.set(f"running#{now_ms:013d}"),
                    Job.started_ms.set(Job.started_ms | now_ms)]
    try:
        job.update(actions=actions, condition=_held_by(agent.agent_id, claim_token))
    except UpdateError:
        _raise_lost(agent, job_id)
    return {"lease_expires_at": int(job.lease_expires_at), "cancel": False}


def _held_by(agent_id: str, claim_token: str) -> Any:
    return (Job.agent_id == agent_id) & (Job.claim_token == claim_token) & Job.status.is_in(*LIVE_STATES)


def _raise_lost(agent: Agent, job_id: str) -> None:
    """After a failed conditional write: 404 if it is not this agent's job, else 409."""
    _agents_job(agent, job_id)
    raise Conflict("This claim no longer holds the job.", "stale_claim")


def _agents_job(agent: Agent, job_id: str) -> Job:
    """The job if it is this agent's; another agent's job does not exist for it."""
    try:
        job = Job.get(job_id, consistent_read=True)
    except DoesNotExist:
        job = None
    if job is None or job.agent_id != agent.agent_id:
        raise NotFound("No such job.", "job_not_found")
    return job


def complete(agent: Agent, job_id: str, body: dict[str, Any]) -> str:
    claim_token = validate.text(body, "claim_token", max_len=64)
    exit_code = body.get("exit_code")
    if not isinstance(exit_code, int) or isinstance(exit_code, bool) or exit_code not in EXIT_STATUS:
        raise Invalid(f"'exit_code' must be one of {sorted(EXIT_STATUS)}.")
    summary = validate.text(body, "summary", max_len=1000, required=False)
    outputs = validate.array(body, "outputs", max_items=len(OUTPUTS), required=False)
    if any(name not in OUTPUTS for name in outputs):
        raise Invalid(f"'outputs' may only name {', '.join(OUTPUTS)}.")
    job = _held_job(agent, job_id, claim_token)
    actions = _finish_actions(EXIT_STATUS[exit_code], exit_code, summary)
    if "result" in outputs:
        actions += _accepted_upload(job)
    try:
        job.update(actions=actions, condition=_held_by(agent.agent_id, claim_token))
    except UpdateError:
        _raise_lost(agent, job_id)
    _record_vm_state(job, body.get("vm"))
    return str(job.status)


def _held_job(agent: Agent, job_id: str, claim_token: str) -> Job:
    job = _agents_job(agent, job_id)
    if job.claim_token != claim_token or job.status not in LIVE_STATES:
        raise Conflict("This claim no longer holds the job.", "stale_claim")
    return job


def _finish_actions(status: str, exit_code: int, summary: str) -> list[Any]:
    now_ms = _now_ms()
    return [Job.status.set(status), Job.status_created.set(f"{status}#{now_ms:013d}"),
            Job.exit_code.set(exit_code), Job.summary.set(summary), Job.finished_ms.set(now_ms),
            Job.started_ms.set(Job.started_ms | now_ms)]


def _accepted_upload(job: Job) -> list[Any]:
    """moto checks no size or signature on presigned PUTs, so we check what landed."""
    key = result_object_key(job, int(job.attempt))
    try:
        head = aws.s3().head_object(Bucket=settings().bucket, Key=key)
    except ClientError as exc:
        raise Invalid("The result was not uploaded.", "upload_missing") from exc
    if head["ContentLength"] > settings().result_max_bytes:
        raise Invalid("The uploaded result is larger than allowed.", "upload_too_large")
    return [Job.result_key.set(key), Job.result_size.set(head["ContentLength"]),
            Job.result_etag.set(head["ETag"].strip('"'))]


def _record_vm_state(job: Job, vm: Any) -> None:
    if not isinstance(vm, dict) or job.vm_uuid is None or vm.get("uuid") != job.vm_uuid:
        return
    state = vm.get("state")
    if isinstance(state, str):
        vms.set_state(job.agent_id, job.vm_uuid, state)


def owned(owner_id: str, job_id: str) -> Job:
    try:
        job = Job.get(job_id)
    except DoesNotExist:
        job = None
    if job is None or job.owner_id != owner_id:
        raise NotFound("No such job.", "job_not_found")
    return job


def list_owned(owner_id: str, agent_id: str | None, limit: int) -> list[Job]:
    condition = Job.agent_id == agent_id if agent_id else None
    return list(Job.by_owner.query(owner_id, scan_index_forward=False, limit=limit,
                                   filter_condition=condition))


def view(job: Job, with_links: bool = False) -> dict[str, Any]:
    result = None
    if job.result_key:
        result = {"size": int(job.result_size or 0), "etag": job.result_etag}
        if with_links:
            result["url"] = aws.s3().generate_presigned_url(
                "get_object", Params={"Bucket": settings().bucket, "Key": job.result_key}, ExpiresIn=300)
    return {"job_id": job.job_id, "agent_id": job.agent_id, "op": job.op, "args": job.args,
            "status": job.status, "attempt": int(job.attempt), "created_ms": int(job.created_ms),
            "claimed_ms": _int(job.claimed_ms), "started_ms": _int(job.started_ms),
            "finished_ms": _int(job.finished_ms), "exit_code": _int(job.exit_code),
            "summary": job.summary, "vm_uuid": job.vm_uuid, "result": result,
            "final": job.status in FINAL_STATES}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
