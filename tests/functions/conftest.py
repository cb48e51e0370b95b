"""In-process API tests: the Chalice app through chalice.test.Client, over the
session's real dynalite and moto servers."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from infra.local import LocalStack


@pytest.fixture(scope="session")
def app(emulators: LocalStack) -> Any:
    from chalicelib import aws, keys, settings, store

    settings.settings.cache_clear()
    aws.reset()
    keys.forget()
    store.bind()
    import app as app_module

    return app_module.app


@pytest.fixture
def configure(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Run a test with these FLEETVISOR_* settings, as a Lambda configured so would; restored after."""
    from chalicelib import settings

    def configure(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.settings.cache_clear()

    yield configure
    monkeypatch.undo()
    settings.settings.cache_clear()


@pytest.fixture
def client(app: Any) -> Iterator[Client]:
    with Client(app) as test_client:
        yield test_client


@dataclass
class Operator:
    user_id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


@dataclass
class FakeHost:
    """A host enrolled through the real register route, speaking as an agent would."""

    agent_id: str
    key: Ed25519PrivateKey

    def token(self, typ: str | None = "fv-agent+jwt", **claims: Any) -> str:
        """A request token with these claims changed; `typ` None leaves the header without one."""
        now = int(time.time())
        body = {
            "sub": self.agent_id,
            "aud": "fleetvisor-agent-api",
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_hex(8),
            **claims,
        }
        return jwt.encode(body, self.key, algorithm="EdDSA", headers={"typ": typ})

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"}


PASSWORD = "operator password 123"


@pytest.fixture
def make_operator(app: Any, client: Client) -> Any:
    from chalicelib.auth import logic

    def make(role: str = "operator") -> Operator:
        email = f"op-{uuid.uuid4().hex[:10]}@example.com"
        user = logic.create_user(email, PASSWORD, role)
        answer = client.http.post(
            "/api/auth/login",
            body=_json({"email": email, "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.body
        return Operator(user.user_id, email, answer.json_body["access_token"])

    return make


def queue_without_ringing(agent_id: str, owner_id: str, count: int = 1) -> list[str]:
    """Queued jobs written straight to the table: no operator call, no doorbell (a lost ring, as it were)."""
    from chalicelib.jobs.models import QUEUE_SHARD, Job

    now_ms = int(time.time() * 1000)
    ids = [f"job_{uuid.uuid4().hex}" for _ in range(count)]
    with Job.batch_write() as batch:
        for job_id in ids:
            batch.save(Job(job_id, agent_id=agent_id, owner_id=owner_id, op="vm.start", args={}, status="queued",
                           status_created=f"queued#{now_ms:013d}", created_ms=now_ms, deliver_by=now_ms // 1000 + 600,
                           queue_shard=QUEUE_SHARD))
    return ids


def drain_rings(host: FakeHost) -> list[str]:
    """Every message waiting in the host's doorbell queue, removed."""
    from chalicelib import aws
    from chalicelib.agents.models import Agent

    url = Agent.get(host.agent_id).queue_url
    bodies: list[str] = []
    while True:
        messages = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies += [m["Body"] for m in messages]
        for m in messages:
            aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def enrol(client: Client) -> Any:
    from chalicelib.agents import enrollment

    def make(owner: Operator, vms: list[dict[str, Any]] | None = None, name: str | None = None) -> FakeHost:
        token, _ = enrollment.mint_token(owner.user_id)
        key = Ed25519PrivateKey.generate()
        answer = client.http.post(
            "/agent/v1/register",
            headers={"Content-Type": "application/json"},
            body=_json(
                {
                    "token": token,
                    "name": name or f"host-{uuid.uuid4().hex[:8]}",
                    "hostname": "h1",
                    "public_key": public_b64(key),
                    "capabilities": {},
                }
            ),
        )
        assert answer.status_code == 200, answer.body
        host = FakeHost(answer.json_body["agent_id"], key)
        beat = client.http.post(
            "/agent/v1/heartbeat",
            headers=host.headers,
            body=_json({"capabilities": {"cpus": 2}, "vms": vms or [VM], "running_jobs": []}),
        )
        assert beat.status_code == 200, beat.body
        return host

    return make


VM = {
    "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
    "name": "test",
    "state": "running",
    "vcpus": 2,
    "memory_kib": 8388608,
}


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
