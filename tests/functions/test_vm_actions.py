"""Every VM action becomes exactly one job with exactly the checked arguments;
hostile input is refused at the edge and queues nothing; results are served
only while they are what the agent uploaded."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from chalice.test import Client
from chalicelib import aws
from chalicelib.audit.models import AuditRecord
from chalicelib.jobs.models import Job
from chalicelib.settings import settings
from fleetvisor_agent import jobs as agent_jobs

from .conftest import VM, FakeHost, Operator

UUID = VM["uuid"]


def _act(client: Client, op: Operator, host: FakeHost, body: dict[str, Any], vm: str = "test") -> Any:
    return client.http.post(f"/api/agents/{host.agent_id}/vms/{vm}/actions", headers=op.headers, body=json.dumps(body))


@pytest.mark.parametrize(("body", "op", "args"), [
    ({"action": "reset"}, "vm.reset", {"vm_uuid": UUID}),
    ({"action": "shutdown", "timeout_seconds": 30}, "vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 30}),
    ({"action": "set-autostart", "autostart": True}, "vm.set_autostart", {"vm_uuid": UUID, "autostart": True}),
    ({"action": "delete", "delete_storage": True, "confirm": "test"}, "vm.delete",
     {"vm_uuid": UUID, "delete_storage": True, "confirm": "test"}),
    ({"action": "snapshot-create", "name": "before-upgrade", "description": "Ünïcode <ok> as text"},
     "vm.snapshot_create", {"vm_uuid": UUID, "name": "before-upgrade", "description": "Ünïcode <ok> as text"}),
    ({"action": "snapshot-revert", "name": "before-upgrade", "owner_id": "x"}, "vm.snapshot_revert",
     {"vm_uuid": UUID, "name": "before-upgrade"}),
    ({"action": "snapshot-list"}, "vm.snapshot_list", {"vm_uuid": UUID}),
    ({"action": "detail"}, "vm.detail", {"vm_uuid": UUID}),
])
def test_each_action_queues_one_job_with_exact_arguments(client: Client, make_operator: Any, enrol: Any,
                                                         body: dict, op: str, args: dict) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    answer = _act(client, owner, host, body)
    assert answer.status_code == 202, answer.json_body
    job = Job.get(answer.json_body["job_id"])
    assert (job.op, job.args) == (op, args)
    assert agent_jobs.args_valid(op, args)  # what the edge queues is what the agent runs


@pytest.mark.parametrize("idempotency_key", [None, "nightly-7"])
def test_each_new_job_has_one_audit_record_and_a_replay_none(client: Client, make_operator: Any, enrol: Any,
                                                             idempotency_key: str | None) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    headers = {**owner.headers, **({"Idempotency-Key": idempotency_key} if idempotency_key else {})}
    path = f"/api/agents/{host.agent_id}/vms/{UUID}/actions"
    first = client.http.post(path, headers=headers, body='{"action": "reboot"}')
    again = client.http.post(path, headers=headers, body='{"action": "reboot"}')
    assert first.status_code == again.status_code == 202
    jobs = {first.json_body["job_id"], again.json_body["job_id"]}
    records = [r for r in AuditRecord.query(owner.user_id) if r.action == "vm.reboot"]
    assert sorted(r.detail["job_id"] for r in records) == sorted(jobs)  # one each; a replay adds none
    assert {(r.actor, r.target) for r in records} == {(owner.user_id, f"{host.agent_id}/{UUID}")}
    assert len(jobs) == (1 if idempotency_key else 2)


@pytest.mark.parametrize(("body", "code"), [
    ({"action": "snapshot-create", "name": "../../etc/passwd"}, "invalid_request"),
    ({"action": "snapshot-create", "name": "x</name><devices>"}, "invalid_request"),
    ({"action": "snapshot-create", "name": "$(id)"}, "invalid_request"),
    ({"action": "snapshot-create", "name": "ok", "description": "line\nbreak"}, "invalid_request"),
    ({"action": "snapshot-create", "name": "a" * 65}, "invalid_request"),
    ({"action": "delete", "delete_storage": True, "confirm": "other"}, "confirmation_mismatch"),
    ({"action": "delete", "delete_storage": "yes", "confirm": "test"}, "invalid_request"),
    ({"action": "set-autostart", "autostart": "true"}, "invalid_request"),
    ({"action": "shutdown", "timeout_seconds": 0}, "invalid_request"),
    ({"action": "shutdown", "timeout_seconds": 99999}, "invalid_request"),
])
def test_bad_arguments_are_400_and_queue_nothing(client: Client, make_operator: Any, enrol: Any, body: dict,
                                                 code: str) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    answer = _act(client, owner, host, body)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, code)
    assert list(Job.by_owner.query(owner.user_id)) == []


# Each as it appears in the path (percent-encoded, decoded once by the edge).
# The megabyte goes straight to the app here. In front of it, the local server
# (Python's http.server) answers 414 to any request line over 64 KiB, and
# CloudFront caps URLs at 8 KiB: those refuse it first, and no more reaches the app.
HOSTILE_VM_NAMES = ["x%3C%2Fname%3E%3Cdevices%3E", "..%2F..%2Fetc%2Fpasswd", "%24(id)", "a%00b", "line%0Abreak",
                    "test%0A", "%2Dleading-dash", "v" * 65, "v" * 1024 * 1024]
VM_ROUTES = [("GET", "", None), ("POST", "/actions", {"action": "start"}),
             ("POST", "/actions", {"action": "snapshot-create", "name": "ok"}), ("POST", "/console", {})]


def _what_the_owner_sees(client: Client, owner: Operator, host: FakeHost) -> dict[str, Any]:
    """Everything a request on a VM could have changed: jobs, consoles, audit trail, the VM itself."""
    def get(path: str) -> Any:
        return client.http.get(path, headers=owner.headers).json_body

    return {"jobs": get(f"/api/jobs?agent_id={host.agent_id}")["jobs"],
            "consoles": get(f"/api/consoles?agent_id={host.agent_id}")["consoles"],
            "audit": [(r.ts_id, r.action) for r in AuditRecord.query(owner.user_id)],
            "vm": get(f"/api/agents/{host.agent_id}/vms/{UUID}")}


@pytest.mark.parametrize("vm", HOSTILE_VM_NAMES, ids=lambda vm: vm[:30] if len(vm) < 100 else f"{len(vm)} chars")
@pytest.mark.parametrize(("method", "suffix", "body"), VM_ROUTES, ids=["detail", "action", "snapshot", "console"])
def test_hostile_vm_names_are_400_and_reach_nothing(client: Client, make_operator: Any, enrol: Any, vm: str,
                                                    method: str, suffix: str, body: dict | None) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    before = _what_the_owner_sees(client, owner, host)
    answer = client.http.request(method, f"/api/agents/{host.agent_id}/vms/{vm}{suffix}", headers=owner.headers,
                                 body=json.dumps(body) if body is not None else b"")
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_vm_name")
    assert "UUID" in answer.json_body["error"]["message"]
    assert _what_the_owner_sees(client, owner, host) == before
    assert before["jobs"] == []


def test_a_vm_whose_name_breaks_the_rule_is_reached_by_its_uuid(client: Client, make_operator: Any,
                                                                enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner, vms=[{**VM, "name": "web server (prod)"}])
    by_name = _act(client, owner, host, {"action": "start"}, vm="web%20server%20(prod)")
    assert (by_name.status_code, by_name.json_body["error"]["code"]) == (400, "invalid_vm_name")
    by_uuid = _act(client, owner, host, {"action": "start"}, vm=UUID.upper())
    assert by_uuid.status_code == 202
    assert Job.get(by_uuid.json_body["job_id"]).args == {"vm_uuid": UUID}


def test_host_capabilities_is_a_job(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    answer = client.http.post(f"/api/agents/{host.agent_id}/capabilities", headers=owner.headers, body="{}")
    assert answer.status_code == 202
    assert (Job.get(answer.json_body["job_id"]).op, Job.get(answer.json_body["job_id"]).args) == (
        "host.capabilities", {})


def _detail_with_result(client: Client, owner: Operator, host: FakeHost,
                        document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A detail job the host ran to the end, its result uploaded through the presigned PUT as the agent
    does (no content type); the job id and the upload it used."""
    job_id = _act(client, owner, host, {"action": "detail"}).json_body["job_id"]
    [claimed] = client.http.post("/agent/v1/poll?wait=0", headers=host.headers, body="{}").json_body["jobs"]
    upload = claimed["uploads"]["result"]
    assert requests.put(upload["url"], data=json.dumps(document), timeout=10).status_code == 200
    client.http.post(f"/agent/v1/jobs/{job_id}/complete", headers=host.headers, body=json.dumps(
        {"claim_token": claimed["claim_token"], "exit_code": 0, "outputs": ["result"]}))
    return job_id, upload


def test_a_result_overwritten_by_a_replayed_url_is_not_served(client: Client, make_operator: Any,
                                                              enrol: Any) -> None:
    owner: Operator = make_operator()
    document = {"ok": True, "data": {"disks": []}}
    job_id, upload = _detail_with_result(client, owner, enrol(owner), document)
    url = upload["url"]
    served = client.http.get(f"/api/jobs/{job_id}/result", headers=owner.headers)
    assert served.status_code == 200 and served.json_body == document
    assert requests.put(url, data=b'{"ok": true, "data": "forged"}', timeout=10).status_code == 200
    replayed = client.http.get(f"/api/jobs/{job_id}/result", headers=owner.headers)
    assert (replayed.status_code, replayed.json_body["error"]["code"]) == (409, "result_changed")


def test_a_result_link_serves_named_json_and_a_lost_result_says_so(client: Client, make_operator: Any,
                                                                   enrol: Any) -> None:
    owner: Operator = make_operator()
    job_id, upload = _detail_with_result(client, owner, enrol(owner), {"ok": True})

    link = client.http.get(f"/api/jobs/{job_id}", headers=owner.headers).json_body["result"]["url"]
    downloaded = requests.get(link, timeout=10)
    assert (downloaded.status_code, downloaded.json()) == (200, {"ok": True})
    assert downloaded.headers["Content-Type"] == "application/json"
    assert downloaded.headers["Content-Disposition"] == f'attachment; filename="{job_id}-result.json"'

    aws.s3().delete_object(Bucket=settings().bucket, Key=upload["key"])  # what a restarted local S3 forgets
    gone = client.http.get(f"/api/jobs/{job_id}/result", headers=owner.headers)
    assert (gone.status_code, gone.json_body["error"]) == (404, {
        "code": "result_not_found",
        "message": "This job's result is no longer stored: results are kept 30 days, and a local stack's S3 "
                   "keeps none across a restart."})


def test_a_refused_name_says_what_is_allowed(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    answer = _act(client, owner, host, {"action": "snapshot-create", "name": "before patch"})
    assert (answer.status_code, answer.json_body["error"]["message"]) == (
        400, "'name' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no spaces).")
    described = _act(client, owner, host, {"action": "snapshot-create", "name": "ok", "description": "a\tb"})
    assert "printable text on one line" in described.json_body["error"]["message"]
    assert list(Job.by_owner.query(owner.user_id)) == []


@pytest.mark.parametrize(("body", "op", "args"), [
    ({"action": "clone", "name": "test-copy"}, "vm.clone", {"vm_uuid": UUID, "name": "test-copy", "start": False}),
    ({"action": "clone", "name": "test-copy", "start": True, "linked": False}, "vm.clone",
     {"vm_uuid": UUID, "name": "test-copy", "start": True}),
    ({"action": "clone", "name": "test-copy", "linked": True}, "vm.clone",
     {"vm_uuid": UUID, "name": "test-copy", "start": False, "linked": True}),
    ({"action": "resize", "vcpus": 4}, "vm.resize", {"vm_uuid": UUID, "vcpus": 4}),
    ({"action": "resize", "memory_mib": 8192, "disks": [{"target": "vda", "size_gib": 80}], "owner_id": "x"},
     "vm.resize", {"vm_uuid": UUID, "memory_mib": 8192, "disks": [{"target": "vda", "size_gib": 80}]}),
])
def test_clone_and_resize_queue_checked_arguments(client: Client, make_operator: Any, enrol: Any,
                                                  body: dict, op: str, args: dict) -> None:
    owner: Operator = make_operator()
    answer = _act(client, owner, enrol(owner), body)
    assert answer.status_code == 202, answer.json_body
    job = Job.get(answer.json_body["job_id"])
    assert (job.op, job.args) == (op, args)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"action": "clone", "name": "test"}, 409, "name_taken"),
    ({"action": "clone", "name": "bad name"}, 400, "invalid_request"),
    ({"action": "clone"}, 400, "invalid_request"),
    ({"action": "resize"}, 400, "nothing_to_resize"),
    ({"action": "resize", "vcpus": 0}, 400, "invalid_request"),
    ({"action": "resize", "memory_mib": "8G"}, 400, "invalid_request"),
    ({"action": "resize", "disks": [{"target": "vda", "size_gib": True}]}, 400, "invalid_request"),
    ({"action": "resize", "disks": [{"target": "../x", "size_gib": 2}]}, 400, "invalid_request"),
    ({"action": "resize", "disks": [{"target": "vda", "size_gib": 2}, {"target": "vda", "size_gib": 3}]}, 400,
     "invalid_request"),
    ({"action": "resize", "disks": []}, 400, "nothing_to_resize"),
    ({"action": "resize", "disks": ["vda"]}, 400, "invalid_request"),
    ({"action": "clone", "name": "copy", "linked": "yes"}, 400, "invalid_request"),
])
def test_bad_clone_and_resize_queue_nothing(client: Client, make_operator: Any, enrol: Any, body: dict,
                                            status: int, code: str) -> None:
    owner: Operator = make_operator()
    answer = _act(client, owner, enrol(owner), body)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (status, code)
    assert list(Job.by_owner.query(owner.user_id)) == []
