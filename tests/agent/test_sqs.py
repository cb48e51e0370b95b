"""The agent's own queue over real HTTP: moto's server, plain and with IAM enforced, and the error table.

Queues are made and rung with boto3 (as the control plane does); the agent's
client receives and deletes. Without IAM enforcement moto accepts any keys;
with it (infra/offline.py's `MotoServer`), the keys are a role's, from STS
AssumeRole, as the API hands them out.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.client import ControlPlane, RawAnswer
from fleetvisor_agent.sigv4 import Credentials
from fleetvisor_agent.sqs import (
    VISIBILITY_SECONDS,
    AccessDenied,
    CredentialsRejected,
    OwnQueue,
    QueueAccess,
    QueueError,
    QueueGone,
    QueueUnavailable,
    error_of,
)

from infra.local import LOOPBACK, VENV_BIN, free_port, wait_for_port
from infra.offline import REGION, MotoServer

ANY_KEYS = Credentials("AKIAMOTOACCEPTSANY00", "any secret", "any session token", expires_at=time.time() + 3600)


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server without IAM enforcement: any signature passes."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with (tmp_path_factory.mktemp("moto") / "moto.log").open("ab") as log:
        proc = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", LOOPBACK, "-p", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, "moto_server", proc)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def http() -> Iterator[ControlPlane]:
    """The agent's one HTTP client; only its `post_raw` is used, so the control plane's URL goes nowhere."""
    client = ControlPlane(f"http://{LOOPBACK}:9", Ed25519PrivateKey.generate())
    yield client
    client.close()


@pytest.fixture
def sqs(moto_url: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="admin",
                        aws_secret_access_key="admin")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName=f"fv-test-agent-{uuid.uuid4().hex[:12]}")["QueueUrl"])


def own_queue(http: ControlPlane, endpoint: str, queue_url: str, keys: Credentials = ANY_KEYS,
              now: Callable[[], float] = time.time) -> OwnQueue:
    return OwnQueue(http, QueueAccess(queue_url, REGION, endpoint, keys, wait_seconds=20), now)


def test_receives_what_was_rung_and_deletes_it(http: ControlPlane, moto_url: str, sqs: Any,
                                               queue_url: str) -> None:
    for job in ("job-1", "job-2", "cancel:job-0"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=job)
    queue = own_queue(http, moto_url, queue_url)

    messages = queue.receive(wait_seconds=1)
    refused = queue.delete([m.receipt_handle for m in messages])

    assert sorted(m.body for m in messages) == ["cancel:job-0", "job-1", "job-2"]
    assert all(m.message_id for m in messages)
    assert refused == []
    assert queue.receive(wait_seconds=1) == []


def test_a_ring_read_but_never_deleted_comes_back_within_seconds(http: ControlPlane, moto_url: str, sqs: Any,
                                                                  queue_url: str) -> None:
    """What a receive nobody finishes (an agent process that stopped mid-wait) took is back after
    VISIBILITY_SECONDS, not after the queue's 30 s."""
    sqs.send_message(QueueUrl=queue_url, MessageBody="job-1")
    queue = own_queue(http, moto_url, queue_url)
    assert [m.body for m in queue.receive(wait_seconds=1)] == ["job-1"]  # read, never deleted
    assert queue.receive(wait_seconds=0) == []
    time.sleep(VISIBILITY_SECONDS + 0.5)
    assert [m.body for m in queue.receive(wait_seconds=0)] == ["job-1"]


def test_deletes_more_than_one_batch(http: ControlPlane, moto_url: str, sqs: Any, queue_url: str) -> None:
    for i in range(13):
        sqs.send_message(QueueUrl=queue_url, MessageBody=f"job-{i}")
    queue = own_queue(http, moto_url, queue_url)
    handles: list[str] = []
    while len(handles) < 13:
        handles += [m.receipt_handle for m in queue.receive(wait_seconds=1)]

    assert queue.delete(handles) == []
    assert sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_handle_sqs_does_not_know_comes_back_refused(http: ControlPlane, moto_url: str, sqs: Any,
                                                      queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="job-1")
    queue = own_queue(http, moto_url, queue_url)
    [message] = queue.receive(wait_seconds=1)

    refused = queue.delete(["not-a-receipt-handle", message.receipt_handle])

    assert refused == ["not-a-receipt-handle"]


def test_a_long_poll_on_an_empty_queue_waits_its_time(http: ControlPlane, moto_url: str, queue_url: str) -> None:
    queue = own_queue(http, moto_url, queue_url)

    started = time.monotonic()
    messages = queue.receive(wait_seconds=2)
    waited = time.monotonic() - started

    assert messages == []
    assert 1.8 <= waited < 6.0


def test_a_deleted_queue_is_gone(http: ControlPlane, moto_url: str, sqs: Any, queue_url: str) -> None:
    sqs.delete_queue(QueueUrl=queue_url)

    with pytest.raises(QueueGone) as caught:
        own_queue(http, moto_url, queue_url).receive(wait_seconds=1)

    assert caught.value.status == 400
    assert caught.value.code in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def test_expired_credentials_are_not_sent(http: ControlPlane, queue_url: str) -> None:
    # The endpoint is a closed port: had the call been sent, it would fail as QueueUnavailable.
    queue = own_queue(http, f"http://{LOOPBACK}:9", queue_url, now=lambda: ANY_KEYS.expires_at or 0.0)

    assert queue.needs_refresh()
    with pytest.raises(CredentialsRejected) as caught:
        queue.receive(wait_seconds=1)

    assert (caught.value.status, caught.value.code) == (0, "ExpiredToken")


def test_no_answer_is_transient(http: ControlPlane, queue_url: str) -> None:
    closed = f"http://{LOOPBACK}:{free_port()}"

    with pytest.raises(QueueUnavailable) as caught:
        own_queue(http, closed, queue_url).receive(wait_seconds=1)

    assert (caught.value.status, caught.value.code) == (0, "unreachable")


@pytest.mark.parametrize(("wait", "count"), [(21, 1), (-1, 1), (1, 0), (1, 11)])
def test_out_of_range_receive_is_refused_before_sending(http: ControlPlane, queue_url: str, wait: int,
                                                        count: int) -> None:
    with pytest.raises(ValueError, match="wait 0..20"):
        own_queue(http, f"http://{LOOPBACK}:9", queue_url).receive(wait_seconds=wait, max_messages=count)


# --- the doorbell answer ---

DOORBELL_ANSWER = {"queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/fv-prod-agent-ag_1",
                   "region": "us-east-1", "endpoint": "https://sqs.us-east-1.amazonaws.com",
                   "credentials": {"access_key_id": "ASIA1", "secret_access_key": "s", "session_token": "t",
                                   "expires_at": 1_900_000_000},
                   "wait_seconds": 20}


def test_the_doorbell_answer_is_read_once() -> None:
    access = QueueAccess.from_answer(DOORBELL_ANSWER)

    assert access.queue_url.endswith("/fv-prod-agent-ag_1")
    assert access.endpoint == "https://sqs.us-east-1.amazonaws.com"
    assert access.credentials == Credentials("ASIA1", "s", "t", 1_900_000_000.0)
    assert access.wait_seconds == 20


@pytest.mark.parametrize(("change", "field"), [
    ({"queue_url": ""}, "queue_url"),
    ({"credentials": None}, "credentials"),
    ({"credentials": {**DOORBELL_ANSWER["credentials"], "expires_at": "soon"}}, "expires_at"),  # type: ignore[dict-item]
    ({"credentials": {**DOORBELL_ANSWER["credentials"], "session_token": None}}, "session_token"),  # type: ignore[dict-item]
    ({"wait_seconds": 21}, "wait_seconds"),
    ({"wait_seconds": True}, "wait_seconds"),
])
def test_a_malformed_doorbell_answer_names_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        QueueAccess.from_answer({**DOORBELL_ANSWER, **change})


# --- what each refusal means: SQS's JSON protocol errors, as AWS documents and sends them ---

def _refusal(status: int, body: object = b"", **headers: str) -> RawAnswer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawAnswer(status, {k.replace("_", "-"): v for k, v in headers.items()}, raw)


@pytest.mark.parametrize(("answer", "kind", "code"), [
    (_refusal(400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "gone"},
              x_amzn_query_error="AWS.SimpleQueueService.NonExistentQueue;Sender"),
     QueueGone, "AWS.SimpleQueueService.NonExistentQueue"),
    (_refusal(400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist"}), QueueGone, "QueueDoesNotExist"),
    (_refusal(403, {"__type": "com.amazon.coral.service#ExpiredTokenException", "message": "expired"}),
     CredentialsRejected, "ExpiredTokenException"),
    (_refusal(403, {"__type": "com.amazon.coral.service#UnrecognizedClientException"}),
     CredentialsRejected, "UnrecognizedClientException"),
    (_refusal(403, {"__type": "com.amazon.coral.service#InvalidSignatureException"}),
     CredentialsRejected, "InvalidSignatureException"),
    (_refusal(400, {"__type": "com.amazon.coral.service#AccessDeniedException"}), AccessDenied,
     "AccessDeniedException"),
    (_refusal(403, b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"),
     AccessDenied, "AccessDenied"),
    (_refusal(400, {"__type": "com.amazonaws.sqs#RequestThrottled"}), QueueUnavailable, "RequestThrottled"),
    (_refusal(400, {"__type": "com.amazon.coral.availability#ThrottlingException"}), QueueUnavailable,
     "ThrottlingException"),
    (_refusal(503, b"<html>Service Unavailable</html>"), QueueUnavailable, "http_503"),
    (_refusal(500, {"__type": "com.amazon.coral.service#InternalFailure"}), QueueUnavailable, "InternalFailure"),
    (_refusal(429), QueueUnavailable, "http_429"),
    (_refusal(403, b""), AccessDenied, "http_403"),
], ids=["query-code", "json-code", "expired", "unknown-key", "bad-signature", "denied-json", "denied-xml",
        "throttled", "throttling", "503", "500", "429", "bare-403"])
def test_each_refusal_says_what_to_do(answer: RawAnswer, kind: type[QueueError], code: str) -> None:
    error = error_of(answer)

    assert type(error) is kind
    assert (error.status, error.code) == (answer.status, code)


def test_an_unknown_refusal_is_none_of_the_actionable_kinds() -> None:
    error = error_of(_refusal(400, {"__type": "com.amazonaws.sqs#InvalidAddress", "message": "bad address"}))

    assert type(error) is QueueError
    assert (error.code, error.message) == ("InvalidAddress", "bad address")


# --- moto's IAM enforcement: a role that reaches one queue ---

@pytest.fixture(scope="module")
def iam_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto-iam") / "moto.log").start()
    yield server
    server.stop()


def _queue_arn(sqs: Any, queue_url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _one_queue_role(moto: MotoServer, name: str, queue_arn: str) -> Credentials:
    """A role allowed to receive from and delete on one queue, assumed by the admin as the API would."""
    iam = moto.client("iam")
    admin = iam.get_user(UserName="admin")["User"]["Arn"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    # AWS authorizes DeleteMessageBatch as sqs:DeleteMessage; moto asks for sqs:DeleteMessageBatch (moto only).
    actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:DeleteMessageBatch"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": queue_arn}]}
    iam.put_role_policy(RoleName=name, PolicyName="own-queue", PolicyDocument=json.dumps(policy))
    keys = moto.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName=name, DurationSeconds=900)
    answer = keys["Credentials"]
    return Credentials(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"],
                       answer["Expiration"].timestamp())


@pytest.fixture(scope="module")
def two_hosts(iam_moto: MotoServer) -> dict[str, Any]:
    """Hosts A and B, each with its queue holding one ring; credentials of a role that reaches A's only."""
    sqs = iam_moto.client("sqs")
    urls = {host: sqs.create_queue(QueueName=f"fv-test-agent-{host}")["QueueUrl"] for host in ("a", "b")}
    keys = _one_queue_role(iam_moto, "fv-test-agent-a", _queue_arn(sqs, urls["a"]))
    return {"sqs": sqs, "urls": urls, "keys": keys}


def test_the_role_receives_and_deletes_on_its_own_queue(http: ControlPlane, iam_moto: MotoServer,
                                                        two_hosts: dict[str, Any]) -> None:
    sqs, url = two_hosts["sqs"], two_hosts["urls"]["a"]
    sqs.send_message(QueueUrl=url, MessageBody="job-for-a")
    queue = own_queue(http, iam_moto.url, url, two_hosts["keys"])

    messages = queue.receive(wait_seconds=1)

    assert [m.body for m in messages] == ["job-for-a"]
    assert queue.delete([m.receipt_handle for m in messages]) == []
    assert queue.receive(wait_seconds=0) == []


def test_the_role_is_denied_another_hosts_queue(http: ControlPlane, iam_moto: MotoServer,
                                                two_hosts: dict[str, Any]) -> None:
    sqs, url = two_hosts["sqs"], two_hosts["urls"]["b"]
    sqs.send_message(QueueUrl=url, MessageBody="job-for-b")

    with pytest.raises(AccessDenied) as caught:
        own_queue(http, iam_moto.url, url, two_hosts["keys"]).receive(wait_seconds=0)

    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert "sqs:ReceiveMessage" in caught.value.message
    [left] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert left["Body"] == "job-for-b"


@pytest.mark.parametrize("spoil", [
    lambda keys: Credentials(keys.access_key_id, "not the secret", keys.session_token, keys.expires_at),
    lambda keys: Credentials(keys.access_key_id, keys.secret_access_key, "not the token", keys.expires_at),
    lambda keys: Credentials("ASIAUNKNOWNKEY000000", keys.secret_access_key, keys.session_token, keys.expires_at),
], ids=["wrong-secret", "wrong-session-token", "unknown-key"])
def test_refused_credentials_ask_for_new_ones(http: ControlPlane, iam_moto: MotoServer, two_hosts: dict[str, Any],
                                              spoil: Callable[[Credentials], Credentials]) -> None:
    queue = own_queue(http, iam_moto.url, two_hosts["urls"]["a"], spoil(two_hosts["keys"]))

    with pytest.raises(CredentialsRejected) as caught:
        queue.receive(wait_seconds=0)

    assert caught.value.status == 403

