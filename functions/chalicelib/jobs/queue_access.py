"""Short-lived credentials that let one agent wait on its own doorbell queue, and do nothing else.

An agent that waits on the API holds a Lambda for the whole wait (billed by
the second: about $22 a month per idle host at 512 MB). Waiting on SQS
itself costs one request per 20 s long poll (about $0.05 a month). So the API
hands each agent credentials from STS: AssumeRole into the stage's agent
doorbell role (which may only receive and delete messages on the stage's agent
queues) with a session policy naming the caller's own queue ARN, so the
session's permissions are the intersection — one queue, two actions. STS is
free and the agent asks again about once an hour.

Revocation: a deregistered host's next request here is refused (the agent
guard reads its record), its queue is deleted (jobs/doorbell.py), and
credentials already handed out expire within `doorbell_credential_seconds`.
With no role configured (an old stage, or a test that wants the API long
poll), the answer says so and the agent keeps long-polling the API.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from .. import aws
from ..agents.models import Agent
from ..errors import FleetvisorError
from ..settings import settings
from . import doorbell

# What an agent does with its queue: wait for a ring and remove what it has read.
ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage")
WAIT_SECONDS = 20  # SQS's longest long poll


class DoorbellUnavailable(FleetvisorError):
    """No doorbell role on this stage: the agent long-polls the API (`POST /agent/v1/poll`)."""

    status = 404
    code = "doorbell_unavailable"


def queue_arn(queue_url: str) -> str:
    """`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` (or moto's `http://host:port/ACCOUNT/NAME`) → its ARN."""
    account, name = urlsplit(queue_url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{settings().region}:{account}:{name}"


def session_policy(queue_url: str) -> dict[str, Any]:
    """The policy that narrows the role's session to this one queue."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "OwnDoorbell", "Effect": "Allow", "Action": list(ACTIONS), "Resource": queue_arn(queue_url)}]}


def endpoint() -> str:
    """Where the agent sends its SQS requests: the configured public endpoint, the one the control plane
    itself uses (moto locally), or the region's."""
    config = settings()
    return (config.sqs_public_endpoint or aws.sqs().meta.endpoint_url
            or f"https://sqs.{config.region}.amazonaws.com").rstrip("/")


def grant(agent: Agent) -> dict[str, Any]:
    """Credentials for the agent's own queue, with where to use them. The queue is made again when it
    is missing (a local stack whose moto restarted; AWS keeps it), as enrolment would have made it."""
    config = settings()
    if not config.doorbell_role_arn:
        raise DoorbellUnavailable("This control plane has no doorbell role; long-poll the API instead.")
    queue_url = doorbell.create_queue(agent.agent_id)
    if queue_url != agent.queue_url:  # made again, at another address (moto restarted on another port)
        agent.update(actions=[Agent.queue_url.set(queue_url)], condition=Agent.agent_id.exists())
    answer = aws.sts().assume_role(RoleArn=config.doorbell_role_arn, RoleSessionName=agent.agent_id,
                                   DurationSeconds=config.doorbell_credential_seconds,
                                   Policy=json.dumps(session_policy(queue_url)))
    credentials = answer["Credentials"]
    return {"queue_url": queue_url, "region": config.region, "endpoint": endpoint(), "wait_seconds": WAIT_SECONDS,
            "credentials": {"access_key_id": credentials["AccessKeyId"],
                            "secret_access_key": credentials["SecretAccessKey"],
                            "session_token": credentials["SessionToken"],
                            "expires_at": int(credentials["Expiration"].timestamp())}}
