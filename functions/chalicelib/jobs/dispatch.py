"""Dispatch: an agent's long poll claims its queued jobs and gets them signed.

The doorbell (SQS) wakes the poll; the jobs table decides. A claim is one
conditional write (`status = queued AND agent_id = me AND due`), so exactly
one poller wins even with two pollers of one identity. Jobs are signed when
claimed, so the signed `attempt` is the claimed one.

A claim holds only for the claim-ack window (30 s) until the agent's first
lease call (`running: true`) turns it into a lease: the API cannot tell
that the agent behind a long poll is gone, and a claim answered into a dead
poll then lapses after the window instead of a whole lease. The signed
`expires_at` ends with the window too, so a delivery that arrives too late
to be acknowledged is refused by the agent as expired. A poll that has
waited re-reads the host before it claims, and claims nothing once a newer
agent process has taken the host over (agents/instances.py).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any

from .. import aws, keys, sealing, store
from ..agents import instances
from ..agents import logic as agents
from ..agents.models import Agent
from ..settings import settings
from . import doorbell, signing, states
from .models import LIVE_SHARD, Job

log = logging.getLogger("fleetvisor.jobs")


def poll(agent: Agent, wait: int, max_jobs: int,
         rung: list[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Claim up to `max_jobs` queued jobs, waiting on the doorbell up to `wait` seconds.

    Also returns the running jobs an operator cancelled meanwhile (their ring
    ends the wait), so a cancel reaches a waiting agent at once. `rung`: what an
    agent that waits on its own queue heard there (job ids, `cancel:` ids); it
    calls with wait 0, and its rings are answered as this poll's own would be.
    """
    deadline = time.monotonic() + wait
    claimed, cancels = _answer_rings(agent, rung, max_jobs) if rung else ([], [])
    if not claimed:
        claimed = _claim_queued(agent, max_jobs)  # the authentication just now found this process current
    while not claimed and not cancels:
        # Rounded, not truncated: a one-second poll that spent a few ms claiming must still wait its second.
        remaining = round(deadline - time.monotonic())
        if remaining <= 0:
            break
        rung = doorbell.wait(agent.queue_url, remaining)
        if doorbell.PING in rung:
            agents.answer_ping(agent)
        rung = [r for r in rung if doorbell.RING_RE.fullmatch(r)]  # console rings are for agents on their queue
        if rung and not instances.still_current(agent):
            _pass_on(agent, rung)
            break
        claimed, cancels = _answer_rings(agent, rung, max_jobs)
        if not claimed:
            # The doorbell is only a hint: look at the table once per wait period.
            claimed = _claim_queued(agent, max_jobs, checked=bool(rung))
    return _deliverable(claimed), cancels


def _deliverable(claimed: list[Job]) -> list[dict[str, Any]]:
    """The claimed jobs, signed; one whose sealed secrets no longer open (sealed with a key since
    retired from the sealing keyring) cannot be delivered, ever: it fails, and the others go."""
    delivered = []
    for job in claimed:
        try:
            delivered.append(_deliver(job))
        except sealing.SealError:
            log.warning("job %s failed: its sealed secrets do not open", job.job_id)
            summary = "Its sealed secrets no longer open (the sealing key was retired): deploy again."
            with store.race():
                job.update(actions=states.final_actions("failed", 3, summary),
                           condition=Job.claim_token == job.claim_token)
    return delivered


def _answer_rings(agent: Agent, rung: list[str], max_jobs: int) -> tuple[list[Job], list[str]]:
    """The jobs the rings name, claimed with consistent writes (no waiting for the index), and the
    cancels they carry that are real (a cancelled job this agent runs)."""
    to_claim = [r for r in rung if not r.startswith(doorbell.CANCEL_PREFIX)]
    cancels = states.cancellations(agent, [r[len(doorbell.CANCEL_PREFIX):] for r in rung
                                           if r.startswith(doorbell.CANCEL_PREFIX)])
    return [job for job in (try_claim(job_id, agent.agent_id) for job_id in to_claim[:max_jobs]) if job], cancels


def ring_again(agent: Agent, older_than_ms: int = 5000) -> int:
    """Ring once more for every due job still queued for the agent after `older_than_ms`: a ring that
    was lost (SendMessage failed) or read by an agent that died before claiming costs a heartbeat's
    interval, not the job. One index query, cheap when nothing waits (heartbeats call this)."""
    now_ms = int(time.time() * 1000)
    rung = 0
    for queued in Job.by_agent_status.query(agent.agent_id, Job.status_created.startswith("queued#"), limit=10):
        due = queued.not_before is None or queued.not_before <= now_ms // 1000
        if due and queued.deliver_by >= now_ms // 1000 and queued.created_ms <= now_ms - older_than_ms:
            doorbell.ring(agent.queue_url, queued.job_id)
            rung += 1
    return rung


def _pass_on(agent: Agent, rung: list[str]) -> None:
    """This poll's process has been replaced (agents/instances.py): what woke it is for the new one's poll."""
    for message in rung:
        doorbell.ring(agent.queue_url, message)


def _claim_queued(agent: Agent, max_jobs: int, checked: bool = True) -> list[Job]:
    """`checked`: whether this poll knows its process is current; if not, it finds out before it claims."""
    claimed: list[Job] = []
    now = int(time.time())
    for queued in Job.by_agent_status.query(agent.agent_id, Job.status_created.startswith("queued#"),
                                            limit=max_jobs * 4):
        if queued.deliver_by < now:
            states.finish_unclaimed(queued.job_id, "expired", "Not claimed within its delivery window.")
            continue
        if queued.not_before is not None and queued.not_before > now:
            continue  # a retry backing off; its doorbell rings when it is due
        if not checked:
            if not instances.still_current(agent):
                break
            checked = True
        job = try_claim(queued.job_id, agent.agent_id)
        if job is not None:
            claimed.append(job)
        if len(claimed) >= max_jobs:
            break
    return claimed


def try_claim(job_id: str, agent_id: str) -> Job | None:
    now_ms = int(time.time() * 1000)
    now = now_ms // 1000
    job = Job(job_id)
    due = Job.not_before.does_not_exist() | (Job.not_before <= now)
    with store.race() as claim:
        job.update(actions=[
            Job.status.set("claimed"), Job.status_created.set(f"claimed#{now_ms:013d}"),
            Job.attempt.add(1), Job.claim_token.set(secrets.token_urlsafe(18)),
            Job.lease_expires_at.set(now + claim_window()), Job.claimed_ms.set(now_ms),
            Job.live_shard.set(LIVE_SHARD), Job.queue_shard.remove()],
            condition=(Job.status == "queued") & (Job.agent_id == agent_id) & (Job.deliver_by >= now) & due)
    if claim.lost:
        return None  # someone else's, already claimed, not yet due, or gone: not ours to run
    return job


def claim_window() -> int:
    """How long a claim holds before the agent acknowledges it with its first lease call (then: a lease)."""
    return min(settings().claim_ack_seconds, settings().lease_seconds)


def _deliver(job: Job) -> dict[str, Any]:
    config = settings()
    kid, key = keys.load(config.job_key_secret).signer()
    attempt = int(job.attempt)
    expires_at = min(int(job.lease_expires_at), int(job.deliver_by))
    # Sealed secrets are opened here and only here: into the signed payload the agent receives.
    args = sealing.reveal(job.args, job.sealed, job.job_id)
    body = signing.payload(job_id=job.job_id, agent_id=job.agent_id, op=job.op, args=args,
                           issued_at=int(time.time()), expires_at=expires_at, attempt=attempt, kid=kid)
    return {"job_id": job.job_id, "envelope": signing.envelope(body, kid, key), "claim_token": job.claim_token,
            "lease_expires_at": int(job.lease_expires_at), "uploads": upload_urls(job)}


def upload_urls(job: Job) -> dict[str, Any]:
    """Presigned PUTs (s3v4, one server-built key each) for this attempt's outputs."""
    config = settings()
    result_key = result_object_key(job.owner_id, job.job_id, str(job.claim_token))
    url = aws.s3_presigner().generate_presigned_url("put_object", Params={"Bucket": config.bucket, "Key": result_key},
                                          ExpiresIn=config.upload_url_seconds)
    return {"result": {"url": url, "key": result_key, "max_bytes": config.result_max_bytes,
                       "expires_at": int(time.time()) + config.upload_url_seconds}}


def result_object_key(owner_id: str, job_id: str, claim_token: str) -> str:
    """Built by the server from ids only, never taken from the agent; one key per attempt.

    The attempt is named by a digest of its claim token rather than its number, so that a completion
    can find its upload from what it carries (the token) without reading the job first; the digest
    does not reveal the token.
    """
    claim = hashlib.sha256(claim_token.encode()).hexdigest()[:20]
    return f"results/{owner_id}/{job_id}/{claim}/result.json"
