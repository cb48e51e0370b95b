"""Per-agent doorbells on SQS: a hint that a job is waiting, never the truth.

The jobs table is the truth; a lost or duplicated message only delays or
repeats a cheap query. Messages carry the job id so a poll can claim it with a
consistent read instead of waiting for the index to catch up.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws
from ..settings import settings

log = logging.getLogger("fleetvisor.doorbell")
# A ring that carries a cancel for a running job rather than a job to claim.
CANCEL_PREFIX = "cancel:"


def create_queue(agent_id: str) -> str:
    name = f"{settings().queue_prefix}agent-{agent_id}"
    # A message older than a delivery window points at a job that has expired anyway.
    attributes: dict[Any, str] = {"MessageRetentionPeriod": str(max(60, settings().delivery_seconds)),
                  "ReceiveMessageWaitTimeSeconds": "0"}
    return aws.sqs().create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def ring(queue_url: str, job_id: str, delay_seconds: int = 0) -> None:
    """Wake the agent's poll now, or after `delay_seconds` (a retry's backoff, at most 900)."""
    try:
        aws.sqs().send_message(QueueUrl=queue_url, MessageBody=job_id, DelaySeconds=max(0, min(900, delay_seconds)))
    except (BotoCoreError, ClientError):
        # The job is queued already; the agent's next poll query finds it.
        log.warning("doorbell for %s not rung; the job waits for the next poll", job_id)


def wait(queue_url: str, seconds: int) -> list[str]:
    """Job ids rung within `seconds` (0 to 20), removed from the queue."""
    answer = aws.sqs().receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=max(0, min(20, seconds)))
    messages = answer.get("Messages", [])
    if messages:
        aws.sqs().delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return [m["Body"] for m in messages]
