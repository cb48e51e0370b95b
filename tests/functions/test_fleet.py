"""The fleet list (GET /api/vms) and VM labels: one paginated query over all of an owner's hosts, and
labels that stay with a VM's UUID."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from chalice.test import Client
from chalicelib.audit.models import AuditRecord
from chalicelib.vms.models import Vm

from .conftest import FakeHost, Operator


def _vm(name: str, state: str = "running", **more: Any) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid4()), "name": name, "state": state, "vcpus": 1, "memory_kib": 1024, **more}


def _fleet(client: Client, op: Operator, query: str = "") -> Any:
    answer = client.http.get(f"/api/vms{query}", headers=op.headers)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def _all(client: Client, op: Operator, query: str = "") -> list[dict[str, Any]]:
    vms: list[dict[str, Any]] = []
    cursor = ""
    while True:
        sep = "&" if query else "?"
        page = _fleet(client, op, f"{query}{sep}cursor={cursor}" if cursor else query)
        vms += page["vms"]
        if not page["next_cursor"]:
            return vms
        cursor = page["next_cursor"]


def _label(client: Client, op: Operator, host: FakeHost, vm: str, labels: Any) -> Any:
    return client.http.patch(f"/api/agents/{host.agent_id}/vms/{vm}", headers=op.headers,
                             body=json.dumps({"labels": labels}))


def _beat(client: Client, host: FakeHost, vms: list[dict[str, Any]]) -> None:
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": vms}))
    assert answer.status_code == 200, answer.body


def test_every_vm_of_every_host_in_one_list_by_name_with_its_host(client: Client, make_operator: Any,
                                                                   enrol: Any) -> None:
    op: Operator = make_operator()
    one = enrol(op, vms=[_vm("web-2"), _vm("db-1", "shutoff")], name="rack-a")
    two = enrol(op, vms=[_vm("web-1", addresses=["10.0.0.7", "fe80::1"])], name="rack-b")
    enrol(make_operator(), vms=[_vm("someone-elses")])
    vms = _fleet(client, op)["vms"]
    assert [(v["name"], v["host_name"], v["agent_id"], v["state"]) for v in vms] == [
        ("db-1", "rack-a", one.agent_id, "shutoff"), ("web-1", "rack-b", two.agent_id, "running"),
        ("web-2", "rack-a", one.agent_id, "running")]
    assert vms[1]["addresses"] == ["10.0.0.7", "fe80::1"] and vms[0]["addresses"] is None
    assert (vms[0]["vcpus"], vms[0]["memory_kib"], vms[0]["labels"]) == (1, 1024, {})


def test_pages_follow_their_cursor_to_the_end_without_repeats(client: Client, make_operator: Any,
                                                                enrol: Any) -> None:
    op: Operator = make_operator()
    names = sorted(f"vm-{i:02d}" for i in range(23))
    enrol(op, vms=[_vm(n) for n in names[:12]])
    enrol(op, vms=[_vm(n) for n in names[12:]])
    first = _fleet(client, op, "?limit=10")
    assert len(first["vms"]) == 10 and first["next_cursor"]
    assert [v["name"] for v in _all(client, op, "?limit=10")] == names


@pytest.mark.parametrize(("query", "expected"), [
    ("?search=WEB", ["web-1", "web-2"]),
    ("?search=rack-b", ["web-1"]),
    ("?search=10.0.0", ["web-1"]),
    ("?search=tier%3Dfront", ["web-2"]),
    ("?search=shutoff", ["db-1"]),
    ("?state=shutoff", ["db-1"]),
    ("?label=tier", ["db-1", "web-2"]),
    ("?label=tier%3Dback", ["db-1"]),
    ("?search=web&state=shutoff", []),
])
def test_search_and_filters_narrow_the_fleet(client: Client, make_operator: Any, enrol: Any, query: str,
                                             expected: list[str]) -> None:
    op: Operator = make_operator()
    web2, db1 = _vm("web-2"), _vm("db-1", "shutoff")
    host = enrol(op, vms=[web2, db1], name="rack-a")
    enrol(op, vms=[_vm("web-1", addresses=["10.0.0.7"])], name="rack-b")
    assert _label(client, op, host, web2["uuid"], {"tier": "front"}).status_code == 200
    assert _label(client, op, host, db1["uuid"], {"tier": "back"}).status_code == 200
    assert [v["name"] for v in _all(client, op, query)] == expected


def test_a_host_filter_and_a_narrow_page_still_reach_the_end(client: Client, make_operator: Any,
                                                             enrol: Any) -> None:
    op: Operator = make_operator()
    enrol(op, vms=[_vm(f"a-{i}") for i in range(5)])
    other = enrol(op, vms=[_vm(f"b-{i}") for i in range(3)])
    found = _all(client, op, f"?agent_id={other.agent_id}&limit=2")
    assert [v["name"] for v in found] == ["b-0", "b-1", "b-2"]


def test_vms_of_a_deregistered_host_leave_the_fleet(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    gone = enrol(op, vms=[_vm("old")])
    enrol(op, vms=[_vm("new")])
    assert client.http.delete(f"/api/agents/{gone.agent_id}", headers=op.headers).status_code == 200
    assert [v["name"] for v in _fleet(client, op)["vms"]] == ["new"]


@pytest.mark.parametrize(("query", "code"), [
    ("?state=exploded", "invalid_request"), ("?label=Bad%20Key", "invalid_request"),
    ("?search=" + "x" * 201, "invalid_request"), ("?limit=many", "invalid_request"),
    ("?cursor=not-one-of-ours", "invalid_cursor")])
def test_bad_queries_are_400(client: Client, make_operator: Any, query: str, code: str) -> None:
    answer = client.http.get(f"/api/vms{query}", headers=make_operator().headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, code)


def test_another_owners_cursor_is_refused_and_their_fleet_needs_an_admin(client: Client, make_operator: Any,
                                                                         enrol: Any) -> None:
    owner, intruder, admin = make_operator(), make_operator(), make_operator("admin")
    enrol(owner, vms=[_vm(f"vm-{i}") for i in range(3)])
    cursor = _fleet(client, owner, "?limit=1")["next_cursor"]
    answer = client.http.get(f"/api/vms?cursor={cursor}", headers=intruder.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_cursor")
    answer = client.http.get(f"/api/vms?owner={owner.user_id}", headers=intruder.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "admin_required")
    assert len(_fleet(client, admin, f"?owner={owner.user_id}")["vms"]) == 3
    assert _fleet(client, intruder)["vms"] == []


def test_labels_are_set_audited_and_survive_a_rename_and_heartbeats(client: Client, make_operator: Any,
                                                                    enrol: Any) -> None:
    op: Operator = make_operator()
    vm = _vm("before")
    host = enrol(op, vms=[vm])
    answer = _label(client, op, host, "before", {"team": "blue", "env": "prod"})
    assert answer.status_code == 200 and answer.json_body["labels"] == {"team": "blue", "env": "prod"}
    _beat(client, host, [{**vm, "name": "after", "state": "shutoff"}])  # renamed in libvirt, and stopped
    [listed] = _fleet(client, op)["vms"]
    assert (listed["name"], listed["state"], listed["labels"]) == ("after", "shutoff", {"team": "blue", "env": "prod"})
    detail = client.http.get(f"/api/agents/{host.agent_id}/vms/after", headers=op.headers).json_body
    assert detail["labels"] == {"team": "blue", "env": "prod"}
    [record] = [r for r in AuditRecord.query(op.user_id) if r.action == "vm.update"]
    assert (record.target, record.detail) == (f"{host.agent_id}/{vm['uuid']}",
                                              {"labels": {"team": "blue", "env": "prod"}})


def test_the_most_labels_a_vm_may_carry_fit_in_one_request(client: Client, make_operator: Any,
                                                           enrol: Any) -> None:
    """As for a host: 20 labels of the longest key and 200 three-byte characters, sent as raw UTF-8."""
    op: Operator = make_operator()
    host = enrol(op, vms=[_vm("full")])
    labels = {f"{i:02d}" + "k" * 61: "€" * 200 for i in range(20)}
    answer = client.http.patch(f"/api/agents/{host.agent_id}/vms/full", headers=op.headers,
                               body=json.dumps({"labels": labels}, ensure_ascii=False).encode())
    assert answer.status_code == 200, answer.body
    assert answer.json_body["labels"] == labels


@pytest.mark.parametrize("labels", [{"Upper": "x"}, {"k": 3}, {"k": "a\nb"}, {"k": "x" * 201},
                                    {f"k{i}": "v" for i in range(21)}, ["k"], None])
def test_bad_labels_are_400_and_change_nothing(client: Client, make_operator: Any, enrol: Any,
                                               labels: Any) -> None:
    op: Operator = make_operator()
    vm = _vm("one")
    host = enrol(op, vms=[vm])
    assert _label(client, op, host, "one", {"keep": "me"}).status_code == 200
    answer = _label(client, op, host, "one", labels)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request")
    assert Vm.get(host.agent_id, vm["uuid"]).labels == {"keep": "me"}


def test_another_owners_vm_cannot_be_labelled(client: Client, make_operator: Any, enrol: Any) -> None:
    owner, intruder = make_operator(), make_operator()
    vm = _vm("theirs")
    host = enrol(owner, vms=[vm])
    answer = _label(client, intruder, host, vm["uuid"], {"mine": "now"})
    assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "agent_not_found")
    answer = _label(client, owner, host, "nope", {"a": "b"})
    assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "vm_not_found")
    assert Vm.get(host.agent_id, vm["uuid"]).labels == {}
    assert not [r for r in AuditRecord.query(intruder.user_id) if r.action == "vm.update"]


def test_bad_addresses_in_a_report_are_refused(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    vm = _vm("one")
    host = enrol(op, vms=[vm])
    for bad in (["not-an-ip"], "10.0.0.1", [7], ["10.0.0.1"] * 33):
        answer = client.http.post("/agent/v1/heartbeat", headers=host.headers,
                                  body=json.dumps({"vms": [{**vm, "addresses": bad}]}))
        assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request"), bad
    assert Vm.get(host.agent_id, vm["uuid"]).addresses is None


def test_a_finished_job_writes_the_addresses_it_saw_with_the_state(client: Client, make_operator: Any,
                                                                   enrol: Any) -> None:
    op: Operator = make_operator()
    vm = _vm("one", "shutoff", addresses=[])
    host = enrol(op, vms=[vm])
    job_id = client.http.post(f"/api/agents/{host.agent_id}/vms/one/actions", headers=op.headers,
                              body=json.dumps({"action": "start"})).json_body["job_id"]
    [claimed] = client.http.post("/agent/v1/poll?wait=0", headers=host.headers,
                                 body=json.dumps({"max_jobs": 1})).json_body["jobs"]
    report = {**vm, "state": "running", "addresses": ["192.168.122.9"]}
    done = client.http.post(f"/agent/v1/jobs/{job_id}/complete", headers=host.headers,
                            body=json.dumps({"claim_token": claimed["claim_token"], "exit_code": 0, "vm": report}))
    assert done.status_code == 200, done.body
    stored = Vm.get(host.agent_id, vm["uuid"])
    assert (stored.state, stored.addresses) == ("running", ["192.168.122.9"])
