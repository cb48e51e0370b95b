"""Jobs as operators see them: creation (with idempotency keys), reads, lists.

Dispatch to agents lives in dispatch.py, state transitions in states.py and
lifecycle.py. Times in the store are server time only: Unix seconds for
leases and deadlines, milliseconds for the timeline operators see.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.models import Model

from .. import aws, sealing, store
from ..agents.models import Agent
from ..errors import Conflict, NotFound
from ..settings import settings
from . import doorbell
from .models import FINAL_STATES, QUEUE_SHARD, Job

RETENTION_SECONDS = 30 * 24 * 3600


def create(agent: Agent, op: str, args: dict[str, Any], *, vm_uuid: str | None = None,
           idempotency_key: str | None = None, records: Callable[[Job], list[Model]] | None = None,
           secrets: dict[str, str] | None = None, fingerprint: Any = None) -> tuple[Job, bool]:
    """The new job and True; or, for a repeated idempotency key with the same request, the original and False.

    `records(job)` are items to store with a new job (its audit record). Without an idempotency key
    the job's id is fresh and random, so the job and its records go in one batch write; with one, a
    conditional put decides first whether this request creates the job at all.

    `secrets`: values the arguments name by placeholder, sealed into the record (sealing.py).
    `fingerprint`: what identifies the request for an idempotency key, when the arguments cannot
    (they hold fresh random placeholders): it must not hold secrets either, since its hash is stored.
    """
    config = settings()
    now_ms = int(time.time() * 1000)
    identity = args if fingerprint is None else fingerprint
    request_hash = hashlib.sha256(json.dumps([agent.agent_id, op, identity], sort_keys=True).encode()).hexdigest()
    job_id = "job_" + (hashlib.sha256(f"{agent.owner_id}\n{idempotency_key}".encode()).hexdigest()[:32]
                       if idempotency_key else uuid.uuid4().hex)
    job = Job(job_id, agent_id=agent.agent_id, owner_id=agent.owner_id, op=op, args=args, vm_uuid=vm_uuid,
              status="queued", status_created=f"queued#{now_ms:013d}", created_ms=now_ms,
              deliver_by=now_ms // 1000 + config.delivery_seconds, max_attempts=config.max_attempts,
              ttl=now_ms // 1000 + RETENTION_SECONDS, request_hash=request_hash, queue_shard=QUEUE_SHARD)
    if secrets:
        job.sealed = sealing.seal(secrets, job_id)
    extra = records(job) if records is not None else []
    if idempotency_key is None:
        store.write_together(job, *extra)
    else:
        original = _put_once(job, request_hash)
        if original is not None:
            return original, False
        if extra:
            store.write_together(*extra)
    doorbell.ring(agent.queue_url, job.job_id)
    return job, True


def _put_once(job: Job, request_hash: str) -> Job | None:
    """Store a job keyed by an idempotency key; None if stored now, else the job stored before."""
    with store.race() as first:
        job.save(condition=Job.job_id.does_not_exist())
    if not first.lost:
        return None
    original = Job.get(job.job_id, consistent_read=True)
    if original.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with another request.", "idempotency_conflict") \
            from first.error
    return original


MAX_RESULT_READ = 1024 * 1024
RESULT_DAYS = 30  # infra/template.yaml's lifecycle rule for results/
RESULT_GONE = (f"This job's result is no longer stored: results are kept {RESULT_DAYS} days, and a local "
               "stack's S3 keeps none across a restart.")


def read_result(job: Job) -> Any:
    """The result document, only if the object is still exactly what the agent
    uploaded (size and ETag recorded at completion): a replayed presigned URL
    that overwrote it is caught here, since the emulator enforces nothing."""
    if not job.result_key:
        raise NotFound("This job has no result.", "result_not_found")
    try:
        body = aws.s3().get_object(Bucket=settings().bucket, Key=job.result_key)
    except ClientError as exc:
        raise NotFound(RESULT_GONE, "result_not_found") from exc
    data = body["Body"].read(MAX_RESULT_READ + 1)
    if body["ETag"].strip('"') != job.result_etag or len(data) != job.result_size:
        raise Conflict("The stored result changed after the job finished; it is not served.", "result_changed")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise Conflict("The stored result is not JSON.", "result_changed") from exc


def owned(owner_id: str, job_id: str) -> Job:
    job = store.get_or_none(Job, job_id[:64])
    if job is None or job.owner_id != owner_id:
        raise NotFound("No such job.", "job_not_found")
    return job


def list_owned(owner_id: str, agent_id: str | None, status: str | None, limit: int) -> list[Job]:
    condition = None
    if agent_id:
        condition = Job.agent_id == agent_id
    if status:
        condition = Job.status == status if condition is None else condition & (Job.status == status)
    return list(Job.by_owner.query(owner_id, scan_index_forward=False, limit=limit, filter_condition=condition))


def view(job: Job, with_links: bool = False) -> dict[str, Any]:
    result = None
    if job.result_key:
        result = {"size": int(job.result_size or 0), "etag": job.result_etag}
        if with_links:
            # The agent uploads through a bare presigned PUT (stored as binary/octet-stream): the link
            # says what it is, so a browser shows or saves it as JSON with a name.
            result["url"] = aws.s3_presigner().generate_presigned_url(
                "get_object", ExpiresIn=300,
                Params={"Bucket": settings().bucket, "Key": job.result_key,
                        "ResponseContentType": "application/json",
                        "ResponseContentDisposition": f'attachment; filename="{job.job_id}-result.json"'})
    return {"job_id": job.job_id, "agent_id": job.agent_id, "op": job.op, "args": job.args,
            "status": job.status, "attempt": int(job.attempt), "max_attempts": int(job.max_attempts),
            "created_ms": int(job.created_ms), "claimed_ms": _int(job.claimed_ms),
            "started_ms": _int(job.started_ms), "finished_ms": _int(job.finished_ms),
            "exit_code": _int(job.exit_code), "summary": job.summary, "vm_uuid": job.vm_uuid, "result": result,
            "final": job.status in FINAL_STATES, "cancel_requested": bool(job.cancel_requested),
            "progress": job.progress}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
