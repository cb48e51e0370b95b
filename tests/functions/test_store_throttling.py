"""DynamoDB throttling that outlasts botocore's retries: a 503 with Retry-After that changed
nothing, never a lost race (409), never skipped. Throttles are injected through botocore's own
`before-send` event on PynamoDB's clients, so botocore retries them first, as it would on AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from chalice.test import Client
from chalicelib import store
from chalicelib.auth.models import ApiKey, Session
from chalicelib.errors import StoreBusy
from chalicelib.jobs import states
from chalicelib.jobs.models import Job
from pynamodb.models import Model

from .conftest import FakeHost, Operator, queue_without_ringing

RETRIES = 1  # botocore's retries per call while a test runs (PynamoDB's default is 3, each a sleep)


@dataclass
class _Body:
    """The raw HTTP body botocore reads an answer from."""

    data: bytes

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@dataclass
class StoreFault:
    """Answers one DynamoDB operation on one table as the store would under throttling (or another
    error), at the HTTP layer: botocore sees it on every attempt, retries included."""

    operation: str
    table: str
    code: str = "ProvisionedThroughputExceededException"
    status: int = 400
    answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # a 200 built from the request instead
    attempts: int = 0
    on: bool = True

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        sent = json.loads(request.body or b"{}")
        if not self.on or self.table not in (sent.get("TableName"), *sent.get("RequestItems", {})):
            return None
        self.attempts += 1
        status, body = (200, self.answer(sent)) if self.answer is not None else (self.status, {
            "__type": f"com.amazonaws.dynamodb.v20120810#{self.code}", "message": "injected by the test"})
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


@dataclass
class FaultyStore:
    """Installs StoreFaults on the botocore clients behind every model and the batch connection."""

    clients: list[Any] = field(default_factory=list)
    faults: list[StoreFault] = field(default_factory=list)

    def fail(self, operation: str, model: type[Model], **how: Any) -> StoreFault:
        fault = StoreFault(operation, model.Meta.table_name, **how)
        for client in self.clients:
            client.meta.events.register(f"before-send.dynamodb.{operation}", fault)
        self.faults.append(fault)
        return fault

    def remove(self) -> None:
        for fault in self.faults:
            for client in self.clients:
                client.meta.events.unregister(f"before-send.dynamodb.{fault.operation}", fault)


@pytest.fixture
def faulty_store(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyStore]:
    """Fresh PynamoDB connections with fewer retries (Meta.max_retry_attempts, PynamoDB's own setting),
    so that a throttle outlasts them quickly; the originals come back afterwards."""
    models = [model for _, group in store.TABLES.values() for model in group]
    for model in models:
        monkeypatch.setattr(model.Meta, "max_retry_attempts", RETRIES)
        monkeypatch.setattr(model, "_connection", None)
    clients = [model._get_connection().connection.client for model in models] + [store._connection().client]
    faults = FaultyStore(clients)
    yield faults
    faults.remove()


def _claimed_job(client: Client, op: Operator, host: FakeHost) -> tuple[str, str]:
    queue_without_ringing(host.agent_id, op.user_id)
    claimed = client.http.post("/agent/v1/poll?wait=0", headers=host.headers, body="{}").json_body["jobs"][0]
    return claimed["job_id"], claimed["claim_token"]


def _lease(client: Client, host: FakeHost, job_id: str, claim_token: str) -> Any:
    return client.http.post(f"/agent/v1/jobs/{job_id}/lease", headers=host.headers,
                            body=json.dumps({"claim_token": claim_token, "running": True}))


def _busy(answer: Any) -> bool:
    return (answer.status_code, answer.json_body["error"]["code"], answer.headers.get("Retry-After")) \
        == (503, "store_busy", "1") and bool(answer.json_body["error"]["message"])


def test_a_throttled_lease_renewal_is_a_503_and_the_agent_keeps_its_job(
        client: Client, make_operator: Any, enrol: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id, claim_token = _claimed_job(client, op, host)
    before = Job.get(job_id, consistent_read=True).attribute_values

    throttle = faulty_store.fail("UpdateItem", Job)
    answer = _lease(client, host, job_id, claim_token)
    throttle.on = False

    assert _busy(answer), answer.body
    assert throttle.attempts == 1 + RETRIES  # botocore retried it, and the throttle outlasted that
    assert Job.get(job_id, consistent_read=True).attribute_values == before
    assert _lease(client, host, job_id, claim_token).status_code == 200


def test_a_lost_race_on_a_lease_is_still_a_409(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id, _ = _claimed_job(client, op, host)

    answer = _lease(client, host, job_id, "another attempt's claim")

    assert (answer.status_code, answer.json_body["error"]["code"]) == (409, "stale_claim")
    assert Job.get(job_id, consistent_read=True).status == "claimed"


def test_another_store_failure_is_a_500_not_a_lost_race(
        client: Client, make_operator: Any, enrol: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id, claim_token = _claimed_job(client, op, host)

    faulty_store.fail("UpdateItem", Job, code="ValidationException")
    answer = _lease(client, host, job_id, claim_token)

    assert (answer.status_code, answer.json_body["error"]["code"]) == (500, "internal_error")
    assert Job.get(job_id, consistent_read=True).status == "claimed"


def test_a_throttled_api_key_revoke_is_a_503_and_the_key_still_works(
        client: Client, make_operator: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()
    key = client.http.post("/api/api-keys", headers=op.headers,
                           body=json.dumps({"name": "ci robot", "scopes": ["read"]})).json_body

    throttle = faulty_store.fail("UpdateItem", ApiKey, code="ThrottlingException")
    answer = client.http.delete(f"/api/api-keys/{key['key_id']}", headers=op.headers)
    throttle.on = False

    assert _busy(answer), answer.body
    assert ApiKey.get(key["key_id"], consistent_read=True).revoked is False
    as_key = {"Authorization": f"Bearer {key['secret']}"}
    assert client.http.get("/api/agents", headers=as_key).status_code == 200


def test_a_throttled_logout_is_a_503_not_skipped(
        client: Client, make_operator: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()

    throttle = faulty_store.fail("UpdateItem", Session, code="RequestLimitExceeded")
    answer = client.http.post("/api/auth/logout", headers=op.headers, body="{}")
    throttle.on = False

    assert _busy(answer), answer.body
    assert client.http.get("/api/me", headers=op.headers).status_code == 200  # told it failed, and it did


def test_a_batch_read_left_unprocessed_is_a_503(
        client: Client, make_operator: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()

    def nothing_processed(sent: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": sent["RequestItems"]}

    faulty_store.fail("BatchGetItem", Session, answer=nothing_processed)
    answer = client.http.get("/api/agents", headers=op.headers)  # reads account and session together

    assert _busy(answer), answer.body


def test_a_throttled_batch_read_is_a_503(client: Client, make_operator: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()

    faulty_store.fail("BatchGetItem", Session)
    answer = client.http.get("/api/agents", headers=op.headers)

    assert _busy(answer), answer.body


def test_the_sweeper_does_not_skip_a_throttled_expiry(
        app: Any, make_operator: Any, faulty_store: FaultyStore) -> None:
    op: Operator = make_operator()
    [job_id] = queue_without_ringing("agent-of-nobody", op.user_id)

    faulty_store.fail("UpdateItem", Job)
    with pytest.raises(StoreBusy):
        states.finish_unclaimed(job_id, "expired", "Not claimed within its delivery window.")

    assert Job.get(job_id, consistent_read=True).status == "queued"
