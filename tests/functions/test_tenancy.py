"""Tenancy: another owner's objects do not exist for an operator; admins reach
them only on purpose (?owner=), and that access is audited. The audit trail
can be read, filtered and paged, never changed."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client
from chalicelib import pagination
from chalicelib.audit.models import AuditRecord
from chalicelib.jobs.models import Job

from .conftest import VM, FakeHost, Operator


def _queue(client: Client, op: Operator, host: FakeHost) -> str:
    answer = client.http.post(
        f"/api/agents/{host.agent_id}/vms/test/actions", headers=op.headers, body=json.dumps({"action": "shutdown"})
    )
    return str(answer.json_body["job_id"])


def test_an_operator_cannot_see_or_touch_another_operators_objects(
    client: Client, make_operator: Any, enrol: Any
) -> None:
    owner: Operator = make_operator()
    intruder: Operator = make_operator()
    host: FakeHost = enrol(owner)
    job_id = _queue(client, owner, host)
    for path in (f"/api/agents/{host.agent_id}", f"/api/agents/{host.agent_id}/vms", f"/api/jobs/{job_id}"):
        assert client.http.get(path, headers=intruder.headers).status_code == 404, path
    assert client.http.get("/api/jobs", headers=intruder.headers).json_body == {"jobs": []}
    for path in ("/api/agents", "/api/jobs", "/api/audit"):
        answer = client.http.get(f"{path}?owner={owner.user_id}", headers=intruder.headers)
        assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "admin_required"), path
    intruder_audit = client.http.get("/api/audit", headers=intruder.headers).json_body["records"]
    assert all(r["action"] != "vm.shutdown" for r in intruder_audit)
    assert Job.get(job_id).status == "queued"


def test_admins_reach_other_owners_on_purpose_and_it_is_audited(client: Client, make_operator: Any, enrol: Any) -> None:
    admin: Operator = make_operator("admin")
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    assert client.http.get("/api/agents", headers=admin.headers).json_body == {"agents": []}
    theirs = client.http.get(f"/api/agents?owner={owner.user_id}", headers=admin.headers).json_body["agents"]
    assert [a["agent_id"] for a in theirs] == [host.agent_id]
    reads = [r for r in AuditRecord.query(admin.user_id) if r.action == "admin.read_other"]
    assert [r.target for r in reads] == [owner.user_id]


def test_an_admins_read_of_another_owner_refused_for_other_reasons_is_not_audited_as_a_read(
    client: Client, make_operator: Any, enrol: Any
) -> None:
    admin: Operator = make_operator("admin")
    owner: Operator = make_operator()
    enrol(owner)
    # A cursor of the admin's own audit page, which continues no page of the other owner's.
    own_page = pagination.encode({"owner_id": admin.user_id, "ts_id": f"{'1' * 13}#{'a' * 12}"})
    refused = [
        client.http.get(f"/api/jobs/job_{'a' * 32}?owner={owner.user_id}", headers=admin.headers),
        client.http.get(f"/api/audit?owner={owner.user_id}&cursor={own_page}", headers=admin.headers),
    ]
    assert [answer.status_code for answer in refused] == [404, 400]
    assert [r for r in AuditRecord.query(admin.user_id) if r.action == "admin.read_other"] == []
    assert client.http.get(f"/api/jobs?owner={owner.user_id}", headers=admin.headers).status_code == 200
    assert len([r for r in AuditRecord.query(admin.user_id) if r.action == "admin.read_other"]) == 1


def test_audit_filters_and_pages_newest_first(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_ids = [_queue(client, op, host) for _ in range(3)]
    shutdowns = client.http.get("/api/audit?action=vm.shutdown", headers=op.headers).json_body["records"]
    assert [r["detail"]["job_id"] for r in shutdowns] == job_ids[::-1]
    paged: list[str] = []
    cursor = ""
    while True:
        page = client.http.get(f"/api/audit?action=vm.&limit=1&cursor={cursor}", headers=op.headers).json_body
        paged += [r["detail"]["job_id"] for r in page["records"]]
        if not page["next"]:
            break
        cursor = page["next"]
    assert paged == job_ids[::-1]
    logins = client.http.get("/api/audit?action=auth.", headers=op.headers).json_body["records"]
    assert {r["action"] for r in logins} == {"auth.login"}
    for part in ("auth", "AUTH", "login", "uth.log"):  # any part of the action, in any case
        found = client.http.get(f"/api/audit?action={part}", headers=op.headers).json_body["records"]
        assert {r["action"] for r in found} == {"auth.login"}, part
    shut = client.http.get("/api/audit?action=shut", headers=op.headers).json_body["records"]
    assert len(shut) == 3 and {r["action"] for r in shut} == {"vm.shutdown"}
    future = client.http.get("/api/audit?since_ms=99999999999999", headers=op.headers).json_body
    assert future == {"records": [], "next": None}


def test_audit_cursor_of_another_owner_is_refused(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    intruder: Operator = make_operator()
    host: FakeHost = enrol(owner)
    _queue(client, owner, host)
    _queue(client, owner, host)
    cursor = client.http.get("/api/audit?limit=1", headers=owner.headers).json_body["next"]
    answer = client.http.get(f"/api/audit?cursor={cursor}", headers=intruder.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_cursor")


def test_the_audit_trail_has_no_way_to_change_it(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    for method in ("put", "patch", "delete", "post"):
        answer = getattr(client.http, method)("/api/audit", headers=op.headers, body="{}")
        assert answer.status_code == 405, method


def test_audit_records_name_the_accounts_hosts_and_vms_they_hold(client: Client, make_operator: Any,
                                                                 enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, name="rack4-host1")
    _queue(client, op, host)
    [shutdown] = client.http.get("/api/audit?action=vm.shutdown", headers=op.headers).json_body["records"]
    assert (shutdown["actor"], shutdown["actor_name"]) == (op.user_id, op.email)
    assert (shutdown["target"], shutdown["target_name"]) == (f"{host.agent_id}/{VM['uuid']}", "test on rack4-host1")
    [login] = client.http.get("/api/audit?action=auth.login", headers=op.headers).json_body["records"]
    assert login["target_name"] is None  # a session id names nothing shown

    intruder: Operator = make_operator("admin")  # another owner's trail never names this owner's host
    AuditRecord(intruder.user_id, "0000000000001#000000000000", actor=intruder.user_id, action="x.y",
                target=host.agent_id, outcome="ok").save()
    theirs = client.http.get("/api/audit?action=x.y", headers=intruder.headers).json_body["records"]
    assert [(r["target"], r["target_name"]) for r in theirs] == [(host.agent_id, None)]
