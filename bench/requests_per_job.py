"""Store and object requests one job costs, from the operator's POST to the
agent's completion, counted at botocore's endpoint (every DynamoDB, S3 and
SQS request the control plane makes, plus the agent's result upload).

The job path runs through the real handlers (chalice.test.Client) over
dynalite and moto; idle polling is excluded by polling only once the job is
queued (with wait=0).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import botocore.endpoint
import jwt
import requests
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "functions")]

from infra.local import LocalStack, StackConfig  # noqa: E402

COUNTS: Counter[str] = Counter()
_make_request = botocore.endpoint.Endpoint.make_request


def _counting(self: Any, operation_model: Any, request_dict: Any) -> Any:
    COUNTS[f"{operation_model.service_model.service_name}.{operation_model.name}"] += 1
    return _make_request(self, operation_model, request_dict)


def agent_headers(agent_id: str, key: Ed25519PrivateKey) -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": agent_id, "aud": "fleetvisor-agent-api", "iat": now, "exp": now + 120,
                        "jti": secrets.token_hex(8)}, key, algorithm="EdDSA", headers={"typ": "fv-agent+jwt"})
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(StackConfig(root=Path(tmp), spa_dir=None, start_api=False, start_agent=False,
                                       admin_password="bench admin password"))
        with stack:
            env = stack.service_env()
            os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "FLEETVISOR_"))})
            measure()


def measure() -> None:
    from chalicelib import store  # noqa: PLC0415 - after the environment points at the emulators
    from chalicelib.agents import enrollment  # noqa: PLC0415
    from chalicelib.auth import logic  # noqa: PLC0415

    store.bind()
    import app  # noqa: PLC0415

    user = logic.create_user("bench@example.com", "bench password 123")
    session = logic.start_session(user, "bench", "127.0.0.1")
    operator = {"Authorization": f"Bearer {session.access_token}", "Content-Type": "application/json"}
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    token, _ = enrollment.mint_token(user.user_id)
    vm = {"uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "name": "test", "state": "running"}
    with Client(app.app) as client:
        agent_id = client.http.post("/agent/v1/register", headers={"Content-Type": "application/json"}, body=json.dumps(
            {"token": token, "name": "bench", "public_key": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()})
        ).json_body["agent_id"]
        client.http.post("/agent/v1/heartbeat", headers=agent_headers(agent_id, key), body=json.dumps({"vms": [vm]}))
        botocore.endpoint.Endpoint.make_request = _counting  # type: ignore[method-assign]
        steps: dict[str, Counter[str]] = {}
        steps["operator POST action"] = _count(lambda: client.http.post(
            f"/api/agents/{agent_id}/vms/test/actions", headers=operator, body='{"action": "reboot"}'))
        claimed: dict[str, Any] = {}
        steps["agent poll (claim)"] = _count(lambda: claimed.update(client.http.post(
            "/agent/v1/poll?wait=0", headers=agent_headers(agent_id, key), body="{}").json_body["jobs"][0]))
        job_id, claim = claimed["job_id"], claimed["claim_token"]
        steps["agent lease (running)"] = _count(lambda: client.http.post(
            f"/agent/v1/jobs/{job_id}/lease", headers=agent_headers(agent_id, key),
            body=json.dumps({"claim_token": claim, "running": True})))
        steps["agent result upload (S3 PUT)"] = Counter({"s3.PutObject": 1})
        requests.put(claimed["uploads"]["result"]["url"], data=b'{"ok": true}', timeout=10)
        steps["agent complete"] = _count(lambda: client.http.post(
            f"/agent/v1/jobs/{job_id}/complete", headers=agent_headers(agent_id, key),
            body=json.dumps({"claim_token": claim, "exit_code": 0, "outputs": ["result"], "vm": vm})))
    total = sum(sum(c.values()) for c in steps.values())
    print(f"requests per job lifecycle (store + object + queue), excluding idle polling: {total}")
    for step, counts in steps.items():
        print(f"  {step:30s} {sum(counts.values()):2d}  {dict(sorted(counts.items()))}")


def _count(call: Any) -> Counter[str]:
    COUNTS.clear()
    call()
    return Counter(COUNTS)


if __name__ == "__main__":
    main()
