"""The job lifecycle past the claim: lapsed leases, retries with backoff,
cancellation (and its races with completion), idempotency keys, expiry."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from chalice.test import Client
from chalicelib.jobs import lifecycle
from chalicelib.jobs.models import Job
from chalicelib.settings import settings

from .conftest import FakeHost, Operator


def _queue(client: Client, op: Operator, host: FakeHost, headers: dict[str, str] | None = None,
           action: str = "shutdown") -> Any:
    return client.http.post(f"/api/agents/{host.agent_id}/vms/test/actions", headers={**op.headers, **(headers or {})},
                            body=json.dumps({"action": action}))


def _poll(client: Client, host: FakeHost) -> list[dict[str, Any]]:
    return list(client.http.post("/agent/v1/poll?wait=0", headers=host.headers, body="{}").json_body["jobs"])


def _post(client: Client, host: FakeHost, path: str, body: dict[str, Any]) -> Any:
    return client.http.post(path, headers=host.headers, body=json.dumps(body))


def _lapse_now(job_id: str) -> dict[str, int]:
    Job(job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
    return lifecycle.sweep()


def _claim_when_due(client: Client, host: FakeHost, timeout: float = 3) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claimed = _poll(client, host)
        if claimed:
            return claimed[0]
        time.sleep(0.05)
    raise AssertionError("the retry never became due")


def test_a_lapsed_lease_requeues_and_the_stale_holder_is_fenced_off(client: Client, make_operator: Any,
                                                                    enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    first = _poll(client, host)[0]
    assert _lapse_now(job_id)["lapsed"] >= 1
    assert Job.get(job_id).status == "queued"
    second = _claim_when_due(client, host)
    assert json.loads(base64.urlsafe_b64decode(second["envelope"]["payload"] + "=="))["attempt"] == 2
    complete = f"/agent/v1/jobs/{job_id}/complete"
    stale = _post(client, host, complete, {"claim_token": first["claim_token"], "exit_code": 0})
    assert (stale.status_code, stale.json_body["error"]["code"]) == (409, "stale_claim")
    done = _post(client, host, complete, {"claim_token": second["claim_token"], "exit_code": 0})
    assert done.json_body == {"status": "succeeded"}
    assert (Job.get(job_id).attempt, Job.get(job_id).status) == (2, "succeeded")


def test_a_claim_holds_for_the_ack_window_until_the_agent_acknowledges_it(client: Client, make_operator: Any,
                                                                          enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    claimed = _poll(client, host)[0]
    job = Job.get(job_id, consistent_read=True)
    window = int(job.lease_expires_at) - int(job.claimed_ms) // 1000
    payload = json.loads(base64.urlsafe_b64decode(claimed["envelope"]["payload"] + "=="))

    assert window == settings().claim_ack_seconds < settings().lease_seconds
    assert payload["expires_at"] == claimed["lease_expires_at"] == int(job.lease_expires_at)
    acked = _post(client, host, f"/agent/v1/jobs/{job_id}/lease", {"claim_token": claimed["claim_token"],
                                                                      "running": True})
    assert acked.json_body["lease_expires_at"] >= int(time.time()) + settings().lease_seconds - 1
    assert Job.get(job_id, consistent_read=True).status == "running"


def test_the_last_lapse_times_the_job_out(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    for _ in range(3):
        _claim_when_due(client, host)
        _lapse_now(job_id)
    job = Job.get(job_id)
    assert (job.status, job.attempt, job.exit_code) == ("timed_out", 3, 124)
    assert _poll(client, host) == []


def test_transient_failure_retries_but_invalid_input_does_not(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    transient = _queue(client, op, host).json_body["job_id"]
    claimed = _poll(client, host)[0]
    answer = _post(client, host, f"/agent/v1/jobs/{transient}/complete",
                   {"claim_token": claimed["claim_token"], "exit_code": 2, "summary": "libvirtd restarting"})
    assert answer.json_body == {"status": "queued"}
    retry = _claim_when_due(client, host)
    invalid = _post(client, host, f"/agent/v1/jobs/{transient}/complete",
                    {"claim_token": retry["claim_token"], "exit_code": 1, "summary": "VM is not running"})
    assert invalid.json_body == {"status": "failed"}
    assert (Job.get(transient).attempt, Job.get(transient).exit_code) == (2, 1)


def test_cancel_a_queued_job_at_once(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    answer = client.http.post(f"/api/jobs/{job_id}/cancel", headers=op.headers, body="{}")
    assert (answer.status_code, answer.json_body["status"]) == (200, "cancelled")
    assert _poll(client, host) == []


def test_cancel_a_running_job_reaches_the_agent(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    token = _poll(client, host)[0]["claim_token"]
    _post(client, host, f"/agent/v1/jobs/{job_id}/lease", {"claim_token": token, "running": True})
    answer = client.http.post(f"/api/jobs/{job_id}/cancel", headers=op.headers, body="{}")
    assert (answer.json_body["status"], answer.json_body["cancel_requested"]) == ("running", True)
    beat = _post(client, host, "/agent/v1/heartbeat", {"vms": [], "running_jobs": [job_id]})
    assert beat.json_body["cancel"] == [job_id]
    assert _post(client, host, f"/agent/v1/jobs/{job_id}/lease", {"claim_token": token}).json_body["cancel"] is True
    done = _post(client, host, f"/agent/v1/jobs/{job_id}/complete",
                 {"claim_token": token, "exit_code": 1, "summary": "stopped on request", "cancelled": True})
    assert done.json_body == {"status": "cancelled"}


def test_completion_that_wins_the_race_with_cancel_stands(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    token = _poll(client, host)[0]["claim_token"]
    assert _post(client, host, f"/agent/v1/jobs/{job_id}/complete",
                 {"claim_token": token, "exit_code": 0}).json_body == {"status": "succeeded"}
    late = client.http.post(f"/api/jobs/{job_id}/cancel", headers=op.headers, body="{}")
    assert (late.status_code, late.json_body["error"]["code"]) == (409, "job_final")
    assert Job.get(job_id).status == "succeeded"


def test_a_cancelled_job_whose_agent_vanished_ends_cancelled(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    _poll(client, host)
    client.http.post(f"/api/jobs/{job_id}/cancel", headers=op.headers, body="{}")
    _lapse_now(job_id)
    assert Job.get(job_id).status == "cancelled"


def test_idempotency_key_returns_the_original_job(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    first = _queue(client, op, host, {"Idempotency-Key": "deploy-42"})
    again = _queue(client, op, host, {"Idempotency-Key": "deploy-42"})
    assert first.status_code == again.status_code == 202
    assert again.json_body["job_id"] == first.json_body["job_id"]
    assert {k.lower(): v for k, v in again.headers.items()}.get("idempotent-replayed") == "true"
    other = _queue(client, op, host, {"Idempotency-Key": "deploy-42"}, action="start")
    assert (other.status_code, other.json_body["error"]["code"]) == (409, "idempotency_conflict")
    assert len(list(Job.by_owner.query(op.user_id))) == 1
    # The same key from another operator is another job.
    stranger: Operator = make_operator()
    theirs = enrol(stranger)
    assert _queue(client, stranger, theirs, {"Idempotency-Key": "deploy-42"}).json_body["job_id"] != first.json_body[
        "job_id"]


def test_undelivered_jobs_expire(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    Job(job_id).update(actions=[Job.deliver_by.set(int(time.time()) - 1)])
    assert lifecycle.sweep()["expired"] >= 1
    assert Job.get(job_id).status == "expired"
    assert _poll(client, host) == []


def test_a_cancel_wakes_the_agents_long_poll_at_once(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue(client, op, host).json_body["job_id"]
    token = _poll(client, host)[0]["claim_token"]
    _post(client, host, f"/agent/v1/jobs/{job_id}/lease", {"claim_token": token, "running": True})
    client.http.post(f"/api/jobs/{job_id}/cancel", headers=op.headers, body="{}")
    started = time.monotonic()
    answer = client.http.post("/agent/v1/poll?wait=10", headers=host.headers, body="{}").json_body
    assert (answer["jobs"], answer["cancel"]) == ([], [job_id])
    assert time.monotonic() - started < 3
