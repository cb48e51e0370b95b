"""Per-agent doorbells on SQS: a hint that a job is waiting, never the truth.

The jobs table is the truth; a lost or duplicated message only delays or
repeats a cheap query. Messages carry the job id so a poll can claim it with a
consistent read instead of waiting for the index to catch up.

Each host has one queue, named `<stage queue prefix>agent-<agent id>`: made at
enrolment, deleted at deregistration, and found by that prefix when a stage
is torn down.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws
from ..errors import Unavailable
from ..settings import settings

log = logging.getLogger("fleetvisor.doorbell")
# What a ring says, by its body: `job_…`, a job to claim; `cancel:job_…`, a running job's cancel;
# `ping`, someone is looking at the host (send a heartbeat now); `console:<id>`, an operator typed
# into that console session (fetch the input now).
CANCEL_PREFIX = "cancel:"
PING = "ping"
CONSOLE_PREFIX = "console:"
# SQS names an error one way in its JSON protocol and another in its query protocol; either may arrive.
QUEUE_GONE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
DELETED_RECENTLY = {"AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"}
# AWS refuses to re-create a queue name for 60 s after it was deleted.
RECREATE_AFTER_SECONDS = 60
AGENT_ID_RE = re.compile(r"ag_[0-9a-f]{32}\Z")
# The rings an agent hands back to be answered by a claim: a job id to claim, or a running job's cancel.
RING_RE = re.compile(r"(?:cancel:)?job_[0-9a-f]{32}")


def queue_prefix() -> str:
    """What every host queue of this stage is named by (the IAM policy and `make destroy` match it)."""
    return f"{settings().queue_prefix}agent-"


def create_queue(agent_id: str) -> str:
    # A message older than a delivery window points at a job that has expired anyway.
    attributes: dict[Any, str] = {"MessageRetentionPeriod": str(max(60, settings().delivery_seconds)),
                  "ReceiveMessageWaitTimeSeconds": "0"}
    try:
        return aws.sqs().create_queue(QueueName=queue_prefix() + agent_id, Attributes=attributes)["QueueUrl"]
    except ClientError as exc:
        if _code(exc) not in DELETED_RECENTLY:
            raise
        # The same host name enrolled again within a minute of its deregistration: the agent retries a 503.
        raise Unavailable("This host was deregistered moments ago; enrol it again in a minute.",
                          RECREATE_AFTER_SECONDS, "host_recently_deregistered") from exc


def delete_queue(queue_url: str) -> None:
    """Delete a host's queue; one already gone is fine. Never fails: the host's record is the truth, and a
    queue left behind only costs a name until the stage's queues are removed by prefix."""
    if not queue_url:
        return
    try:
        aws.sqs().delete_queue(QueueUrl=queue_url)
    except ClientError as exc:
        if _code(exc) not in QUEUE_GONE:
            log.warning("doorbell queue %s not deleted: %s", queue_url.rsplit("/", 1)[-1], _code(exc))
    except BotoCoreError as exc:
        log.warning("doorbell queue %s not deleted: %s", queue_url.rsplit("/", 1)[-1], type(exc).__name__)


def stage_queues(page_size: int = 1000, *, sqs: Any = None, prefix: str | None = None) -> list[str]:
    """The URLs of every host queue of this stage (for tearing a stage down), and no other stage's: a
    longer stage name can share the prefix, so the rest of each name must be an agent id. `sqs` and
    `prefix` name another stage's (`make destroy`, which runs outside the functions' settings)."""
    prefix = prefix or queue_prefix()
    pages = (sqs or aws.sqs()).get_paginator("list_queues").paginate(QueueNamePrefix=prefix,
                                                           PaginationConfig={"PageSize": page_size})
    return [url for page in pages for url in page.get("QueueUrls", [])
            if AGENT_ID_RE.match(url.rsplit("/", 1)[-1][len(prefix):])]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ring(queue_url: str, message: str, delay_seconds: int = 0) -> bool:
    """Wake the agent now, or after `delay_seconds` (a retry's backoff, at most 900); False if SQS refused.

    Never raises: what a ring announces is recorded already (a queued job, a cancel, console input), and
    the agent finds it by other means, later (its next heartbeat's ring_again, a lease answer)."""
    try:
        aws.sqs().send_message(QueueUrl=queue_url, MessageBody=message, DelaySeconds=max(0, min(900, delay_seconds)))
    except (BotoCoreError, ClientError):
        log.warning("doorbell for %s not rung; the agent finds what it announced later", message)
        return False
    return True


def wait(queue_url: str, seconds: int) -> list[str]:
    """Job ids rung within `seconds` (0 to 20), removed from the queue."""
    answer = aws.sqs().receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=max(0, min(20, seconds)))
    messages = answer.get("Messages", [])
    if messages:
        aws.sqs().delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return [m["Body"] for m in messages]
