"""VM listing and lifecycle actions: what an operator may ask, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client
from chalicelib.jobs.models import Job

from .conftest import VM, FakeHost, Operator


def _jobs_of(owner: Operator) -> list[Job]:
    return list(Job.by_owner.query(owner.user_id))


def _act(client: Client, op: Operator, agent_id: str, vm: str, body: Any) -> Any:
    return client.http.post(f"/api/agents/{agent_id}/vms/{vm}/actions", headers=op.headers, body=json.dumps(body))


def test_owner_sees_host_and_vms(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    agents = client.http.get("/api/agents", headers=op.headers).json_body["agents"]
    assert [(a["agent_id"], a["status"], a["vm_count"]) for a in agents] == [(host.agent_id, "online", 1)]
    vms = client.http.get(f"/api/agents/{host.agent_id}/vms", headers=op.headers).json_body["vms"]
    assert [(v["name"], v["state"], v["uuid"]) for v in vms] == [("test", "running", VM["uuid"])]


@pytest.mark.parametrize("address", ["test", VM["uuid"], VM["uuid"].upper()])
def test_vm_found_by_name_or_uuid(client: Client, make_operator: Any, enrol: Any, address: str) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    answer = client.http.get(f"/api/agents/{host.agent_id}/vms/{address}", headers=op.headers)
    assert answer.status_code == 200 and answer.json_body["uuid"] == VM["uuid"]


def test_action_queues_a_job_and_audits_it(client: Client, make_operator: Any, enrol: Any) -> None:
    from chalicelib.audit.models import AuditRecord

    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    answer = _act(client, op, host.agent_id, "test", {"action": "shutdown"})
    assert answer.status_code == 202
    job = answer.json_body
    assert (job["status"], job["op"], job["args"], job["attempt"]) == (
        "queued",
        "vm.shutdown",
        {"vm_uuid": VM["uuid"]},
        0,
    )
    assert [j.job_id for j in _jobs_of(op)] == [job["job_id"]]
    audit = [r for r in AuditRecord.query(op.user_id) if r.action == "vm.shutdown"]
    assert [(r.actor, r.target, r.detail["job_id"]) for r in audit] == [
        (op.user_id, f"{host.agent_id}/{VM['uuid']}", job["job_id"])
    ]


@pytest.mark.parametrize(
    ("path_agent", "vm", "body", "status", "code"),
    [
        ("ag_unknown", "test", {"action": "start"}, 404, "agent_not_found"),
        (None, "nope", {"action": "start"}, 404, "vm_not_found"),
        (None, "test", {"action": "explode"}, 400, "invalid_action"),
        (None, "test", {"action": ["start"]}, 400, "invalid_action"),
        (None, "test", {}, 400, "invalid_action"),
        (None, "x%3C%2Fname%3E%3Cdevices%3E", {"action": "start"}, 400, "invalid_vm_name"),
    ],
)
def test_bad_actions_queue_nothing(
    client: Client, make_operator: Any, enrol: Any, path_agent: str | None, vm: str, body: dict, status: int, code: str
) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    answer = _act(client, op, path_agent or host.agent_id, vm, body)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (status, code)
    assert _jobs_of(op) == []


def test_action_without_token_is_401_and_queues_nothing(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    answer = client.http.post(
        f"/api/agents/{host.agent_id}/vms/test/actions",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"action": "start"}),
    )
    assert (answer.status_code, answer.json_body["error"]["code"]) == (401, "unauthorized")
    assert _jobs_of(op) == []


def test_another_operators_host_does_not_exist(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    intruder: Operator = make_operator()
    host: FakeHost = enrol(owner)
    for path in (
        f"/api/agents/{host.agent_id}",
        f"/api/agents/{host.agent_id}/vms",
        f"/api/agents/{host.agent_id}/vms/test",
    ):
        answer = client.http.get(path, headers=intruder.headers)
        assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "agent_not_found")
    answer = _act(client, intruder, host.agent_id, "test", {"action": "start"})
    assert answer.status_code == 404
    assert _jobs_of(owner) == [] and _jobs_of(intruder) == []
    assert client.http.get("/api/agents", headers=intruder.headers).json_body == {"agents": []}


def test_wrong_media_type_is_415(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    answer = client.http.post(
        f"/api/agents/{host.agent_id}/vms/test/actions",
        headers={**op.headers, "Content-Type": "text/plain"},
        body="action=start",
    )
    assert (answer.status_code, answer.json_body["error"]["code"]) == (415, "unsupported_media_type")
    assert _jobs_of(op) == []


def test_wrong_method_is_405(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    answer = client.http.delete("/api/jobs", headers=op.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (405, "method_not_allowed")
