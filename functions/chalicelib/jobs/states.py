"""Job state transitions after the claim: lease, completion, retry, lapse,
cancellation, expiry. Each is one conditional write; final states never change.

Retries: exit 2 (transient) and 124 (timed out), and a lapsed lease, send the
job back to the queue for another attempt until `max_attempts` is spent, each
retry due after an exponential backoff with full jitter (base 1 s, cap 60 s).
"""

from __future__ import annotations

import random
import time
from typing import Any

from .. import ids, store
from ..agents.models import Agent
from ..errors import Conflict, NotFound
from ..settings import settings
from . import doorbell
from .models import LIVE_SHARD, LIVE_STATES, QUEUE_SHARD, Job

RETRY_EXITS = (2, 124)
BACKOFF_BASE = 1
BACKOFF_CAP = 60


def _now_ms() -> int:
    return int(time.time() * 1000)


def backoff_seconds(attempt: int) -> int:
    return random.randint(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1)))  # noqa: S311 - jitter


def held_by(agent_id: str, claim_token: str) -> Any:
    return (Job.agent_id == agent_id) & (Job.claim_token == claim_token) & Job.status.is_in(*LIVE_STATES)


def agents_job(agent: Agent, job_id: str) -> Job:
    """The job if it is this agent's; another agent's job does not exist for it."""
    job = store.get_or_none(Job, job_id, consistent_read=True)
    if job is None or job.agent_id != agent.agent_id:
        raise NotFound("No such job.", "job_not_found")
    return job


def raise_lost(agent: Agent, job_id: str) -> None:
    """After a failed conditional write: 404 if it is not this agent's job, else 409."""
    agents_job(agent, job_id)
    raise Conflict("This claim no longer holds the job.", "stale_claim")


def final_actions(status: str, exit_code: int | None, summary: str) -> list[Any]:
    now_ms = _now_ms()
    actions = [Job.status.set(status), Job.status_created.set(f"{status}#{now_ms:013d}"),
               Job.summary.set(summary[:1000]), Job.finished_ms.set(now_ms), Job.live_shard.remove(),
               Job.queue_shard.remove(), Job.started_ms.set(Job.started_ms | now_ms)]
    if exit_code is not None:
        actions.append(Job.exit_code.set(exit_code))
    return actions


def requeue_actions(job: Job, summary: str, exit_code: int | None) -> tuple[list[Any], int]:
    """Back to the queue for attempt `job.attempt + 1`, due after a jittered backoff."""
    now = int(time.time())
    delay = backoff_seconds(int(job.attempt))
    actions = [Job.status.set("queued"), Job.status_created.set(f"queued#{int(job.created_ms):013d}"),
               Job.claim_token.remove(), Job.live_shard.remove(), Job.queue_shard.set(QUEUE_SHARD),
               Job.not_before.set(now + delay), Job.deliver_by.set(now + delay + settings().delivery_seconds),
               Job.summary.set(summary[:1000])]
    if exit_code is not None:
        actions.append(Job.exit_code.set(exit_code))
    return actions, delay


def retry_left(job: Job) -> bool:
    return int(job.attempt) < int(job.max_attempts) and not job.cancel_requested


def finish_unclaimed(job_id: str, status: str, summary: str) -> Job | None:
    """End a job nobody has claimed; the job as it now is (the update returns it), or None if it was not queued."""
    job = Job(job_id)
    with store.race() as ending:
        job.update(actions=final_actions(status, None, summary), condition=Job.status == "queued")
    return None if ending.lost else job


def lapse(job: Job, agent: Agent | None = None) -> str | None:
    """The lease ran out (agent died or cut off): retry, time out, or honour a cancel."""
    if job.cancel_requested:
        actions, status = final_actions("cancelled", None, "Cancelled; the agent stopped answering."), "cancelled"
        delay = None
    elif retry_left(job):
        actions, delay = requeue_actions(job, f"Lease lapsed on attempt {int(job.attempt)}; retrying.", None)
        status = "queued"
    else:
        actions, status = final_actions("timed_out", 124, "Lease lapsed; no attempts left."), "timed_out"
        delay = None
    condition = (Job.claim_token == job.claim_token) & (Job.lease_expires_at < int(time.time())) \
        & Job.status.is_in(*LIVE_STATES)
    with store.race() as lapsing:
        job.update(actions=actions, condition=condition)
    if lapsing.lost:
        return None  # renewed or completed meanwhile: the holder is alive after all
    if delay is not None and agent is not None:
        doorbell.ring(agent.queue_url, job.job_id, delay)
    return status


def renew_actions(running: bool) -> list[Any]:
    """A lease renewal; the first one with `running` also marks the job running."""
    now_ms = _now_ms()
    actions: list[Any] = [Job.lease_expires_at.set(now_ms // 1000 + settings().lease_seconds),
                          Job.live_shard.set(LIVE_SHARD)]
    if running:
        actions += [Job.status.set("running"), Job.status_created.set(f"running#{now_ms:013d}"),
                    Job.started_ms.set(Job.started_ms | now_ms)]
    return actions


def cancellations(agent: Agent, job_ids: list[Any]) -> list[str]:
    """Of these job ids, those of this agent's live jobs an operator asked to cancel."""
    wanted = list(dict.fromkeys(j for j in job_ids[:100] if ids.matches("job_id", j)))  # BatchGetItem: no repeats
    if not wanted:
        return []
    return [job.job_id for job in Job.batch_get(wanted)
            if job.agent_id == agent.agent_id and job.cancel_requested and job.status in LIVE_STATES]
