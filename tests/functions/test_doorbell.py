"""Host doorbell queues over moto: deleted when the host is deregistered, and
every queue of a stage found by its name prefix (for tearing the stage down)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from chalicelib import aws
from chalicelib.agents import enrollment
from chalicelib.agents.models import Agent
from chalicelib.jobs import doorbell
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import FakeHost, Operator, public_b64


def _queue_exists(name: str) -> bool:
    try:
        aws.sqs().get_queue_url(QueueName=name)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in doorbell.QUEUE_GONE
        return False
    return True


@pytest.fixture
def sqs_fails(app: Any) -> Iterator[Callable[[str, str], None]]:
    """Make the control plane's next calls of one SQS operation fail with an error code."""
    hooks: list[tuple[str, Callable[..., None]]] = []

    def fail(operation: str, code: str) -> None:
        def refuse(**_: Any) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

        hooks.append((f"before-call.sqs.{operation}", refuse))
        aws.sqs().meta.events.register(*hooks[-1])

    yield fail
    for event, hook in hooks:
        aws.sqs().meta.events.unregister(event, hook)


@pytest.fixture
def own_queue_prefix(configure: Callable[..., None]) -> str:
    """A stage queue prefix no other test uses, so a listing can be checked for exactly its queues."""
    prefix = f"fleetvisor-t{uuid.uuid4().hex[:8]}-"
    configure(FLEETVISOR_QUEUE_PREFIX=prefix)
    return prefix


def _deregister(client: Client, op: Operator, host: FakeHost, by: str) -> Any:
    if by == "operator":
        return client.http.delete(f"/api/agents/{host.agent_id}", headers=op.headers)
    return client.http.post("/agent/v1/deregister", headers=host.headers, body="{}")


@pytest.mark.parametrize("by", ["operator", "agent"])
def test_deregistering_a_host_deletes_its_doorbell_queue(client: Client, make_operator: Any, enrol: Any,
                                                         by: str) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    name = doorbell.queue_prefix() + host.agent_id
    assert _queue_exists(name)

    answer = _deregister(client, op, host, by)

    assert answer.status_code == 200, answer.body
    assert not _queue_exists(name)
    assert Agent.get(host.agent_id, consistent_read=True).revoked


def test_a_queue_already_gone_does_not_stop_deregistration(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    aws.sqs().delete_queue(QueueUrl=Agent.get(host.agent_id).queue_url)

    answer = _deregister(client, op, host, "operator")

    assert answer.status_code == 200, answer.body
    assert Agent.get(host.agent_id, consistent_read=True).revoked


def test_an_sqs_failure_is_logged_and_the_host_is_deregistered_all_the_same(
        client: Client, make_operator: Any, enrol: Any, sqs_fails: Callable[[str, str], None],
        caplog: pytest.LogCaptureFixture) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    sqs_fails("DeleteQueue", "AccessDenied")

    with caplog.at_level(logging.WARNING, logger="fleetvisor.doorbell"):
        answer = _deregister(client, op, host, "operator")

    assert answer.status_code == 200, answer.body
    assert Agent.get(host.agent_id, consistent_read=True).revoked
    assert any("not deleted: AccessDenied" in r.getMessage() for r in caplog.records)
    assert _queue_exists(doorbell.queue_prefix() + host.agent_id)  # left for `make destroy`


def test_enrolling_again_within_a_minute_of_deregistration_is_retried_later(
        client: Client, make_operator: Any, sqs_fails: Callable[[str, str], None]) -> None:
    # AWS refuses a queue name for 60 s after its deletion (moto does not): the agent retries a 503.
    op: Operator = make_operator()
    token, _ = enrollment.mint_token(op.user_id)
    sqs_fails("CreateQueue", "AWS.SimpleQueueService.QueueDeletedRecently")
    name = f"host-{uuid.uuid4().hex[:8]}"
    answer = client.http.post("/agent/v1/register", headers={"Content-Type": "application/json"},
                              body=json.dumps({"token": token, "name": name, "hostname": "h1", "capabilities": {},
                                               "public_key": public_b64(Ed25519PrivateKey.generate())}))

    assert (answer.status_code, answer.json_body["error"]["code"]) == (503, "host_recently_deregistered")
    assert answer.headers["Retry-After"] == "60"
    assert Agent.count(enrollment.agent_id_for(op.user_id, name)) == 0


def test_the_stage_listing_finds_exactly_this_stages_host_queues(own_queue_prefix: str) -> None:
    ours = {doorbell.create_queue(f"ag_{uuid.uuid4().hex}") for _ in range(3)}
    others = [f"fleetvisor-other-agent-ag_{uuid.uuid4().hex}",  # another stage
              f"{own_queue_prefix}agent-agent-ag_{uuid.uuid4().hex}",  # stage "<ours>-agent" shares the prefix
              f"{own_queue_prefix}objects-events"]  # this stage, but not a host's
    for name in others:
        aws.sqs().create_queue(QueueName=name)

    assert set(doorbell.stage_queues(page_size=2)) == ours
