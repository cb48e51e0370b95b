"""`POST /agent/v1/doorbell`: an agent gets short-lived credentials for its own queue, narrowed by a
session policy to that one queue, and waits there for its jobs instead of in a held Lambda."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from chalice.test import Client

from infra.local import LocalStack

from .conftest import FakeHost, Operator, queue_without_ringing

ROLE = "arn:aws:iam::123456789012:role/fleetvisor-local-agent-doorbell"


@pytest.fixture
def doorbell_role(configure: Callable[..., None]) -> str:
    configure(FLEETVISOR_DOORBELL_ROLE_ARN=ROLE)
    return ROLE


def _grant(client: Client, host: FakeHost) -> Any:
    return client.http.post("/agent/v1/doorbell", headers=host.headers, body="{}")


def _sqs(answer: dict[str, Any]) -> Any:
    creds = answer["credentials"]
    return boto3.client("sqs", endpoint_url=answer["endpoint"], region_name=answer["region"],
                        aws_access_key_id=creds["access_key_id"], aws_secret_access_key=creds["secret_access_key"],
                        aws_session_token=creds["session_token"])


def test_a_host_gets_credentials_for_its_own_queue_and_hears_its_jobs_there(
        doorbell_role: str, client: Client, make_operator: Any, enrol: Any, emulators: LocalStack) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    answer = _grant(client, host)
    assert answer.status_code == 200, answer.body
    body = answer.json_body
    assert body["queue_url"].endswith(f"/fleetvisor-local-agent-{host.agent_id}")
    assert body["wait_seconds"] == 20 and body["credentials"]["expires_at"] > body["server_time"]
    assert body["endpoint"] == f"http://127.0.0.1:{emulators.moto_port}"

    started = client.http.post(f"/api/agents/{host.agent_id}/vms/6695eb01-f6a4-8304-79aa-97f2502e193f/actions",
                               headers=owner.headers, body=json.dumps({"action": "start"}))
    assert started.status_code == 202
    rung = _sqs(body).receive_message(QueueUrl=body["queue_url"], WaitTimeSeconds=1, MaxNumberOfMessages=10)
    assert [m["Body"] for m in rung["Messages"]] == [started.json_body["job_id"]]


def test_the_session_policy_names_exactly_the_callers_queue_and_two_actions(doorbell_role: str) -> None:
    from chalicelib.jobs import queue_access

    url = "https://sqs.us-east-1.amazonaws.com/123456789012/fleetvisor-dev-agent-ag_" + "a" * 32
    policy = queue_access.session_policy(url)
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:sqs:us-east-1:123456789012:fleetvisor-dev-agent-ag_" + "a" * 32
    assert sorted(statement["Action"]) == ["sqs:DeleteMessage", "sqs:ReceiveMessage"]


def test_the_queue_is_made_again_when_it_is_gone_and_the_host_record_follows(
        doorbell_role: str, client: Client, make_operator: Any, enrol: Any, emulators: LocalStack) -> None:
    from chalicelib.agents.models import Agent

    host: FakeHost = enrol(make_operator())
    old_url = Agent.get(host.agent_id).queue_url
    emulators.client("sqs").delete_queue(QueueUrl=old_url)  # moto restarted (it keeps nothing)
    answer = _grant(client, host)
    assert answer.status_code == 200, answer.body
    assert Agent.get(host.agent_id, consistent_read=True).queue_url == answer.json_body["queue_url"]
    assert emulators.client("sqs").get_queue_url(QueueName=f"fleetvisor-local-agent-{host.agent_id}")


def test_without_a_doorbell_role_the_agent_is_told_to_long_poll_the_api(
        configure: Callable[..., None], client: Client, make_operator: Any, enrol: Any) -> None:
    configure(FLEETVISOR_DOORBELL_ROLE_ARN="")
    answer = _grant(client, enrol(make_operator()))
    assert answer.status_code == 404
    assert answer.json_body["error"]["code"] == "doorbell_unavailable"


def test_a_deregistered_host_gets_no_credentials(doorbell_role: str, client: Client, make_operator: Any,
                                                 enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    assert client.http.delete(f"/api/agents/{host.agent_id}", headers=owner.headers).status_code == 200
    answer = _grant(client, host)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (401, "agent_revoked")


def test_an_unauthenticated_caller_gets_nothing(doorbell_role: str, client: Client) -> None:
    answer = client.http.post("/agent/v1/doorbell", headers={"Authorization": f"Bearer {uuid.uuid4().hex}"},
                              body="{}")
    assert answer.status_code == 401


def _poll(client: Client, host: FakeHost, rung: list[Any]) -> Any:
    return client.http.post("/agent/v1/poll?wait=0", headers=host.headers,
                            body=json.dumps({"max_jobs": 10, "rung": rung}))


def test_an_agent_claims_what_it_heard_on_its_queue_with_a_poll_that_does_not_wait(
        client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    [job_id] = queue_without_ringing(host.agent_id, owner.user_id)
    answer = _poll(client, host, [job_id, "not a ring", 7, "cancel:job_" + "0" * 32])
    assert answer.status_code == 200, answer.body
    assert [job["job_id"] for job in answer.json_body["jobs"]] == [job_id]
    assert answer.json_body["cancel"] == []  # a cancel for a job that is not this agent's running one


def test_rings_that_are_not_a_list_are_refused(client: Client, make_operator: Any, enrol: Any) -> None:
    answer = _poll(client, enrol(make_operator()), "job_" + "0" * 32)  # type: ignore[arg-type]
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request")


def test_a_heartbeat_rings_again_for_a_job_whose_ring_was_lost(
        client: Client, make_operator: Any, enrol: Any, emulators: LocalStack) -> None:
    from chalicelib.agents.models import Agent
    from chalicelib.jobs.models import Job

    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    queue_url = Agent.get(host.agent_id).queue_url
    sqs = emulators.client("sqs")
    [waiting] = queue_without_ringing(host.agent_id, owner.user_id)
    [fresh] = queue_without_ringing(host.agent_id, owner.user_id)
    Job(waiting).update(actions=[Job.created_ms.set(Job.get(waiting).created_ms - 10_000)])
    beat = client.http.post("/agent/v1/heartbeat", headers=host.headers,
                            body=json.dumps({"vms": [], "running_jobs": []}))
    assert beat.status_code == 200, beat.body
    rung = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in rung] == [waiting]  # the fresh one's own ring may still be on its way
    assert fresh != waiting
