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


FULL_VM = {**VM, "state": "shutoff", "state_reason": "destroyed", "autostart": True, "persistent": False}


def _beat(client: Client, host: FakeHost, vms: list[dict[str, Any]]) -> Any:
    return client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": vms}))


def _vms(client: Client, op: Operator, host: FakeHost) -> list[dict[str, Any]]:
    return list(client.http.get(f"/api/agents/{host.agent_id}/vms", headers=op.headers).json_body["vms"])


def test_list_and_detail_carry_reason_autostart_and_persistence(client: Client, make_operator: Any,
                                                                 enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[FULL_VM])
    [listed] = _vms(client, op, host)
    detail = client.http.get(f"/api/agents/{host.agent_id}/vms/test", headers=op.headers).json_body
    for vm in (listed, detail):
        assert (vm["state"], vm["state_reason"], vm["autostart"], vm["persistent"]) == (
            "shutoff", "destroyed", True, False)
        assert (vm["vcpus"], vm["memory_kib"]) == (2, 8388608)


def test_an_agent_that_does_not_say_leaves_them_unknown(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    [vm] = _vms(client, op, host)
    assert (vm["state_reason"], vm["autostart"], vm["persistent"]) == (None, None, None)


def test_a_heartbeat_that_changes_only_autostart_is_stored(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[FULL_VM])
    assert _beat(client, host, [{**FULL_VM, "autostart": False}]).status_code == 200
    assert _vms(client, op, host)[0]["autostart"] is False


def test_a_reason_this_control_plane_does_not_know_is_shown_as_unknown(client: Client, make_operator: Any,
                                                                       enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    assert _beat(client, host, [{**FULL_VM, "state_reason": "from_a_newer_libvirt"}]).status_code == 200
    assert _vms(client, op, host)[0]["state_reason"] == "unknown"


@pytest.mark.parametrize(
    "bad",
    [
        {"state_reason": 3},
        {"state_reason": "<b>user</b>"},
        {"state_reason": "Destroyed"},
        {"state_reason": "a" * 41},
        {"autostart": "yes"},
        {"autostart": 1},
        {"persistent": "false"},
        {"persistent": []},
    ],
)
def test_bad_inventory_fields_are_refused_and_change_nothing(client: Client, make_operator: Any, enrol: Any,
                                                             bad: dict[str, Any]) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[FULL_VM])
    before = _vms(client, op, host)
    answer = _beat(client, host, [{**FULL_VM, "state": "running", **bad}])
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request")
    assert _vms(client, op, host) == before


def test_a_finished_job_writes_the_autostart_it_set_at_once(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[{**FULL_VM, "autostart": False, "persistent": True}])
    job_id = _act(client, op, host.agent_id, "test", {"action": "set-autostart", "autostart": True}).json_body["job_id"]
    [claimed] = client.http.post("/agent/v1/poll?wait=0", headers=host.headers,
                                 body=json.dumps({"max_jobs": 1})).json_body["jobs"]
    report = {**FULL_VM, "autostart": True, "persistent": True}
    done = client.http.post(f"/agent/v1/jobs/{job_id}/complete", headers=host.headers,
                            body=json.dumps({"claim_token": claimed["claim_token"], "exit_code": 0, "vm": report}))
    assert done.status_code == 200, done.body
    [vm] = _vms(client, op, host)
    assert (vm["autostart"], vm["persistent"], vm["state_reason"]) == (True, True, "destroyed")


def test_a_finished_job_with_a_bad_vm_report_still_completes_and_leaves_the_vm(client: Client, make_operator: Any,
                                                                              enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[FULL_VM])
    before = _vms(client, op, host)
    job_id = _act(client, op, host.agent_id, "test", {"action": "start"}).json_body["job_id"]
    [claimed] = client.http.post("/agent/v1/poll?wait=0", headers=host.headers,
                                 body=json.dumps({"max_jobs": 1})).json_body["jobs"]
    report = {**FULL_VM, "state": "running", "autostart": "yes"}
    done = client.http.post(f"/agent/v1/jobs/{job_id}/complete", headers=host.headers,
                            body=json.dumps({"claim_token": claimed["claim_token"], "exit_code": 0, "vm": report}))
    assert done.json_body == {"status": "succeeded"}
    assert _vms(client, op, host) == before
