"""API keys: shown once, stored hashed, scoped, never more than their owner."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client
from chalicelib.audit.models import AuditRecord
from chalicelib.auth.models import ApiKey
from chalicelib.jobs.models import Job

from .conftest import FakeHost, Operator


def _create(client: Client, op: Operator, scopes: list[str], **extra: Any) -> dict[str, Any]:
    answer = client.http.post(
        "/api/api-keys", headers=op.headers, body=json.dumps({"name": "ci robot", "scopes": scopes, **extra})
    )
    assert answer.status_code == 201, answer.body
    return dict(answer.json_body)


def _as_key(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def test_secret_is_shown_once_and_stored_only_as_a_hash(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    key = _create(client, op, ["read"])
    assert key["secret"].startswith("fv_") and key["prefix"] == key["secret"][:11]
    listed = client.http.get("/api/api-keys", headers=op.headers).json_body["api_keys"]
    assert [k["key_id"] for k in listed] == [key["key_id"]] and "secret" not in listed[0]
    stored = ApiKey.get(key["key_id"])
    assert key["secret"] not in json.dumps(stored.attribute_values, default=str)


def test_read_key_reads_but_cannot_act(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    secret = _create(client, op, ["read"])["secret"]
    assert client.http.get("/api/agents", headers=_as_key(secret)).status_code == 200
    answer = client.http.post(
        f"/api/agents/{host.agent_id}/vms/test/actions", headers=_as_key(secret), body=json.dumps({"action": "start"})
    )
    assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "insufficient_scope")
    assert list(Job.by_owner.query(op.user_id)) == []


def test_operate_key_acts_and_its_use_is_recorded(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    key = _create(client, op, ["operate"])
    answer = client.http.post(
        f"/api/agents/{host.agent_id}/vms/test/actions",
        headers=_as_key(key["secret"]),
        body=json.dumps({"action": "start"}),
    )
    assert answer.status_code == 202
    assert ApiKey.get(key["key_id"]).last_used_ms is not None
    uses = [r for r in AuditRecord.query(op.user_id) if r.action == "api_key.use"]
    assert [r.target for r in uses] == [key["key_id"]]


def test_admin_scope_on_an_operator_grants_no_admin_routes(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    secret = _create(client, op, ["admin"])["secret"]
    answer = client.http.get("/api/users", headers=_as_key(secret))
    assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "admin_required")


def test_keys_cannot_do_what_needs_a_session(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    secret = _create(client, op, ["admin"])["secret"]
    answer = client.http.post(
        "/api/me/password",
        headers=_as_key(secret),
        body=json.dumps({"current_password": "x" * 12, "new_password": "y" * 14}),
    )
    assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "session_required")


def test_revoked_and_expired_keys_stop_working(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    revoked = _create(client, op, ["read"])
    expired = _create(client, op, ["read"], expires_in_days=1)
    assert client.http.delete(f"/api/api-keys/{revoked['key_id']}", headers=op.headers).json_body["revoked"] is True
    ApiKey(expired["key_id"]).update(actions=[ApiKey.expires_ms.set(1)])
    for key in (revoked, expired):
        answer = client.http.get("/api/agents", headers=_as_key(key["secret"]))
        assert (answer.status_code, answer.json_body["error"]["code"]) == (401, "unauthorized")


def test_a_forged_secret_for_a_real_key_id_is_refused(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    key = _create(client, op, ["read"])
    forged = key["secret"][:-4] + "AAAA"
    assert client.http.get("/api/agents", headers=_as_key(forged)).status_code == 401


def test_a_disabled_owner_disables_the_key(client: Client, make_operator: Any) -> None:
    from chalicelib.auth.models import User

    op: Operator = make_operator()
    secret = _create(client, op, ["read"])["secret"]
    User(op.user_id).update(actions=[User.disabled.set(True)])
    assert client.http.get("/api/agents", headers=_as_key(secret)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "bad\nname", "scopes": ["read"]},
        {"scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "expires_in_days": -1},
        # "Never expires" is said by leaving it out (or null), never by a falsy value that reads like one.
        {"name": "x", "scopes": ["read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["read"], "expires_in_days": False},
        {"name": "x", "scopes": ["read"], "expires_in_days": ""},
        {"name": "x", "scopes": ["read"], "expires_in_days": []},
    ],
)
def test_bad_key_requests_create_nothing(client: Client, make_operator: Any, body: dict) -> None:
    op: Operator = make_operator()
    answer = client.http.post("/api/api-keys", headers=op.headers, body=json.dumps(body))
    assert answer.status_code == 400
    assert client.http.get("/api/api-keys", headers=op.headers).json_body == {"api_keys": []}


def test_another_operators_key_cannot_be_revoked(client: Client, make_operator: Any) -> None:
    owner: Operator = make_operator()
    other: Operator = make_operator()
    key = _create(client, owner, ["read"])
    answer = client.http.delete(f"/api/api-keys/{key['key_id']}", headers=other.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "api_key_not_found")
    assert ApiKey.get(key["key_id"]).revoked is False


def test_reading_another_owners_objects_needs_an_admin_key_not_a_read_key(client: Client, make_operator: Any,
                                                                          enrol: Any) -> None:
    owner: Operator = make_operator()
    enrol(owner)
    admin: Operator = make_operator("admin")
    read_key = _create(client, admin, ["read"])["secret"]
    admin_key = _create(client, admin, ["admin"])["secret"]

    others = (f"/api/agents?owner={owner.user_id}", f"/api/audit?owner={owner.user_id}", "/api/audit?owner=anonymous")
    for path in others:
        refused = client.http.get(path, headers=_as_key(read_key))
        assert (refused.status_code, refused.json_body["error"]["code"]) == (403, "insufficient_scope"), path
        assert client.http.get(path, headers=_as_key(admin_key)).status_code == 200, path
    hosts = client.http.get(f"/api/agents?owner={owner.user_id}", headers=_as_key(admin_key)).json_body["agents"]
    assert len(hosts) == 1
    assert client.http.get("/api/agents", headers=_as_key(read_key)).status_code == 200  # its own: a read
