"""Host identity: one name per owner, no silent takeover by another key,
approval when the owner asks for it, and deregistration that one write makes final."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client
from chalicelib.agents import enrollment
from chalicelib.agents.models import Agent
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import VM, FakeHost, Operator, public_b64

JSON = {"Content-Type": "application/json"}


def _register(client: Client, owner: Operator, name: str, key: Ed25519PrivateKey, token: str | None = None) -> Any:
    token = token or enrollment.mint_token(owner.user_id)[0]
    return client.http.post(
        "/agent/v1/register",
        headers=JSON,
        body=json.dumps({"token": token, "name": name, "public_key": public_b64(key), "hostname": "h"}),
    )


def _beat(client: Client, host: FakeHost) -> Any:
    return client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": [VM]}))


def test_another_key_for_a_known_name_waits_for_the_owner(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    old_key, new_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    agent_id = _register(client, op, "web-1", old_key).json_body["agent_id"]
    token, _ = enrollment.mint_token(op.user_id)
    pending = _register(client, op, "web-1", new_key, token)
    assert (pending.status_code, pending.json_body["status"], pending.json_body["agent_id"]) == (
        202,
        "pending_approval",
        agent_id,
    )
    # Asking again with the same key and the spent token only reports the wait.
    assert _register(client, op, "web-1", new_key, token).status_code == 202
    old, new = FakeHost(agent_id, old_key), FakeHost(agent_id, new_key)
    assert _beat(client, old).status_code == 200 and _beat(client, new).status_code == 401
    [listed] = client.http.get("/api/agents", headers=op.headers).json_body["agents"]
    assert listed["pending_reregistration"] is True
    assert client.http.post(f"/api/agents/{agent_id}/approve", headers=op.headers, body="{}").status_code == 200
    assert _beat(client, new).status_code == 200 and _beat(client, old).status_code == 401
    assert _register(client, op, "web-1", new_key, token).status_code == 200


def test_a_rejected_reregistration_changes_nothing(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    old_key, new_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    agent_id = _register(client, op, "db-1", old_key).json_body["agent_id"]
    _register(client, op, "db-1", new_key)
    assert client.http.post(f"/api/agents/{agent_id}/reject", headers=op.headers, body="{}").status_code == 200
    assert Agent.get(agent_id).pending_public_key is None
    assert _beat(client, FakeHost(agent_id, old_key)).status_code == 200
    again = client.http.post(f"/api/agents/{agent_id}/reject", headers=op.headers, body="{}")
    assert (again.status_code, again.json_body["error"]["code"]) == (409, "nothing_pending")


def test_owners_can_require_approval_for_new_hosts(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    answer = client.http.patch("/api/me", headers=op.headers, body=json.dumps({"require_host_approval": True}))
    assert answer.json_body["require_host_approval"] is True
    key = Ed25519PrivateKey.generate()
    registered = _register(client, op, "new-1", key)
    assert (registered.status_code, registered.json_body["status"]) == (202, "pending_approval")
    host = FakeHost(registered.json_body["agent_id"], key)
    refused = _beat(client, host)
    assert (refused.status_code, refused.json_body["error"]["code"]) == (403, "host_pending_approval")
    [listed] = client.http.get("/api/agents", headers=op.headers).json_body["agents"]
    assert (listed["status"], listed["approval"]) == ("pending", "pending")
    assert client.http.get(f"/api/agents/{host.agent_id}/vms", headers=op.headers).status_code == 404
    client.http.post(f"/api/agents/{host.agent_id}/approve", headers=op.headers, body="{}")
    assert _beat(client, host).status_code == 200


def test_deregistered_host_gets_401_with_the_reason(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    assert client.http.delete(f"/api/agents/{host.agent_id}", headers=op.headers).status_code == 200
    answer = _beat(client, host)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (401, "agent_revoked")
    assert client.http.get("/api/agents", headers=op.headers).json_body == {"agents": []}


def test_a_host_can_deregister_itself(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    assert client.http.post("/agent/v1/deregister", headers=host.headers, body="{}").status_code == 200
    assert _beat(client, host).json_body["error"]["code"] == "agent_revoked"


def test_a_deregistered_name_can_enrol_again_with_a_new_key(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    old_key = Ed25519PrivateKey.generate()
    first = _register(client, op, "reborn", old_key).json_body["agent_id"]
    client.http.delete(f"/api/agents/{first}", headers=op.headers)
    key = Ed25519PrivateKey.generate()
    again = _register(client, op, "reborn", key)
    assert again.status_code == 200 and again.json_body["agent_id"] == first
    assert _beat(client, FakeHost(first, key)).status_code == 200
    seen_ms = Agent.get(first).last_seen_ms
    # The deregistered key does not come back with the name.
    revoked = _beat(client, FakeHost(first, old_key))
    assert (revoked.status_code, revoked.json_body["error"]["code"]) == (401, "unauthorized")
    assert Agent.get(first).last_seen_ms == seen_ms


def test_labels_are_validated(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    good = client.http.patch(
        f"/api/agents/{host.agent_id}", headers=op.headers, body=json.dumps({"labels": {"rack": "r4", "tier": "gold"}})
    )
    assert good.json_body["labels"] == {"rack": "r4", "tier": "gold"}
    for labels in ({"Bad Key": "x"}, {"k": "v\n"}, {"k": 1}, {f"k{i}": "v" for i in range(21)}):
        answer = client.http.patch(
            f"/api/agents/{host.agent_id}", headers=op.headers, body=json.dumps({"labels": labels})
        )
        assert answer.status_code == 400, labels
    assert Agent.get(host.agent_id).labels == {"rack": "r4", "tier": "gold"}


def test_another_owner_cannot_approve_or_deregister(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    intruder: Operator = make_operator()
    host: FakeHost = enrol(owner)
    for method, path in (("delete", ""), ("post", "/approve"), ("post", "/reject")):
        answer = getattr(client.http, method)(f"/api/agents/{host.agent_id}{path}", headers=intruder.headers, body="{}")
        assert answer.status_code == 404
    assert _beat(client, host).status_code == 200



def test_the_most_labels_a_host_may_carry_fit_in_one_request(client: Client, make_operator: Any,
                                                             enrol: Any) -> None:
    """Each field's own limit refuses first, never the body's: 20 labels of the longest key and a value
    of 200 three-byte characters, sent as a browser sends them (raw UTF-8)."""
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    labels = {f"{i:02d}" + "k" * 61: "€" * 200 for i in range(20)}
    answer = client.http.patch(f"/api/agents/{host.agent_id}", headers=op.headers,
                               body=json.dumps({"labels": labels}, ensure_ascii=False).encode())
    assert answer.status_code == 200, answer.body
    assert Agent.get(host.agent_id).labels == labels
