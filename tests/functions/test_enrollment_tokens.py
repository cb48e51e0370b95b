"""Enrolment tokens as operators manage them: shown once, listed with their
uses, revocable, and a revoked or used-up token enrols nothing."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client
from chalicelib.agents.models import EnrollmentToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import Operator, public_b64

JSON = {"Content-Type": "application/json"}


def _register(client: Client, token: str, name: str) -> Any:
    return client.http.post("/agent/v1/register", headers=JSON, body=json.dumps({
        "token": token, "name": name, "public_key": public_b64(Ed25519PrivateKey.generate())}))


def test_multi_use_token_counts_its_uses_and_stops_at_zero(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    made = client.http.post("/api/enrollment-tokens", headers=op.headers,
                            body=json.dumps({"uses": 2, "note": "rack 7", "ttl_seconds": 600})).json_body
    assert made["token"].startswith("fvet_") and made["uses_left"] == 2
    assert made["token"] not in json.dumps(
        [t.attribute_values for t in EnrollmentToken.by_owner.query(op.user_id)], default=str)
    assert _register(client, made["token"], "one").status_code == 200
    assert _register(client, made["token"], "two").status_code == 200
    assert _register(client, made["token"], "three").json_body["error"]["code"] == "enrollment_refused"
    [listed] = client.http.get("/api/enrollment-tokens", headers=op.headers).json_body["enrollment_tokens"]
    assert (listed["token_id"], listed["uses"], listed["uses_left"]) == (made["token_id"], 2, 0)
    assert listed["note"] == "rack 7"
    assert "token" not in listed


def test_revoked_token_enrols_nothing(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    made = client.http.post("/api/enrollment-tokens", headers=op.headers, body="{}").json_body
    revoked = client.http.delete(f"/api/enrollment-tokens/{made['token_id']}", headers=op.headers)
    assert revoked.status_code == 200 and revoked.json_body["revoked"] is True
    assert _register(client, made["token"], "late").json_body["error"]["code"] == "enrollment_refused"
    assert client.http.get("/api/agents", headers=op.headers).json_body == {"agents": []}


def test_another_operators_token_cannot_be_revoked(client: Client, make_operator: Any) -> None:
    owner: Operator = make_operator()
    other: Operator = make_operator()
    made = client.http.post("/api/enrollment-tokens", headers=owner.headers, body="{}").json_body
    answer = client.http.delete(f"/api/enrollment-tokens/{made['token_id']}", headers=other.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "enrollment_token_not_found")
    assert _register(client, made["token"], "fine").status_code == 200


def test_expired_token_enrols_nothing(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    made = client.http.post("/api/enrollment-tokens", headers=op.headers, body="{}").json_body
    [record] = list(EnrollmentToken.by_owner.query(op.user_id))
    record.update(actions=[EnrollmentToken.expires_at.set(1)])
    assert _register(client, made["token"], "late").json_body["error"]["code"] == "enrollment_refused"
