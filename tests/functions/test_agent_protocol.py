"""The agent protocol through the real handlers: enrolment, heartbeat, poll
(claim + signature), lease and completion, with the refusals each allows."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import botocore.endpoint
import pytest
import requests
from chalice.test import Client
from chalicelib.agents import enrollment
from chalicelib.agents.models import Agent
from chalicelib.jobs import doorbell
from chalicelib.jobs.models import Job
from chalicelib.settings import settings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .conftest import VM, FakeHost, Operator, public_b64, queue_without_ringing

JSON = {"Content-Type": "application/json"}


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _queue_job(client: Client, op: Operator, host: FakeHost, action: str = "shutdown") -> str:
    answer = client.http.post(
        f"/api/agents/{host.agent_id}/vms/test/actions", headers=op.headers, body=json.dumps({"action": action})
    )
    assert answer.status_code == 202
    return str(answer.json_body["job_id"])


def _poll(client: Client, host: FakeHost, wait: int = 0) -> list[dict[str, Any]]:
    answer = client.http.post(f"/agent/v1/poll?wait={wait}", headers=host.headers, body=json.dumps({"max_jobs": 5}))
    assert answer.status_code == 200, answer.body
    return list(answer.json_body["jobs"])


def _post(client: Client, host: FakeHost, path: str, body: dict[str, Any]) -> Any:
    return client.http.post(path, headers=host.headers, body=json.dumps(body))


def test_a_one_second_poll_with_nothing_to_claim_waits_its_second(client: Client, make_operator: Any,
                                                                   enrol: Any) -> None:
    host: FakeHost = enrol(make_operator())
    started = time.monotonic()
    assert _poll(client, host, wait=1) == []
    assert time.monotonic() - started >= 0.9


def _poll_in_background(client: Client, host: FakeHost, wait: int) -> tuple[threading.Thread, dict[str, Any]]:
    """A long poll waiting in another thread; `answer` gets its jobs and the time it answered."""
    answer: dict[str, Any] = {}

    def poll() -> None:
        answer["jobs"] = _poll(client, host, wait=wait)
        answer["at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)  # it has looked at the table once and waits on the doorbell now
    return thread, answer


def test_a_waiting_poll_answers_as_soon_as_a_job_rings_its_doorbell(client: Client, make_operator: Any,
                                                                     enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    thread, answer = _poll_in_background(client, host, wait=10)
    [job_id] = queue_without_ringing(host.agent_id, op.user_id)
    rung = time.monotonic()
    doorbell.ring(Agent.get(host.agent_id).queue_url, job_id)  # as the operator's POST does
    thread.join(timeout=15)

    assert [j["job_id"] for j in answer["jobs"]] == [job_id]
    assert answer["at"] - rung < 1.5  # the doorbell, not the end of the 10 s wait


def test_a_lost_doorbell_delays_a_job_by_one_wait_period_at_most(client: Client, make_operator: Any,
                                                                  enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    thread, answer = _poll_in_background(client, host, wait=3)
    [job_id] = queue_without_ringing(host.agent_id, op.user_id)  # queued, and its ring lost
    queued = time.monotonic()
    thread.join(timeout=10)

    assert [j["job_id"] for j in answer["jobs"]] == [job_id]  # the same poll found it in the table
    assert answer["at"] - queued < 3.5


def _as_process(host: FakeHost, instance: str) -> dict[str, str]:
    """Headers of the long-running agent process `instance` (its tokens name it in `inst`)."""
    return {"Authorization": f"Bearer {host.token(inst=instance)}", "Content-Type": "application/json"}


def _poll_as(client: Client, headers: dict[str, str], wait: int, answer: dict[str, Any]) -> threading.Thread:
    def poll() -> None:
        got = client.http.post(f"/agent/v1/poll?wait={wait}", headers=headers, body='{"max_jobs": 5}')
        answer.update(status=got.status_code, body=got.json_body, at=time.monotonic())

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)  # past its first look at the table: waiting on the doorbell
    return thread


def _host_with_a_waiting_poll(client: Client, make_operator: Any, enrol: Any, instance: str,
                              wait: int) -> tuple[Operator, FakeHost, dict[str, Any], threading.Thread]:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    answer: dict[str, Any] = {}
    return op, host, answer, _poll_as(client, _as_process(host, instance), wait, answer)


def test_a_poll_left_by_a_replaced_agent_process_claims_nothing_and_hands_its_ring_on(
        client: Client, make_operator: Any, enrol: Any) -> None:
    """An agent killed while its long poll waits at the API, and started again: a job queued now goes to
    the new process's poll at once, not into the dead one's (where it would wait out the claim window)."""
    op, host, orphan, orphan_thread = _host_with_a_waiting_poll(client, make_operator, enrol, "dead-process", 4)
    successor: dict[str, Any] = {}
    successor_thread = _poll_as(client, _as_process(host, "new-process"), 10, successor)
    assert Agent.get(host.agent_id).instance == "new-process"

    [job_id] = queue_without_ringing(host.agent_id, op.user_id)
    rung = time.monotonic()
    doorbell.ring(Agent.get(host.agent_id).queue_url, job_id)
    successor_thread.join(timeout=15)
    orphan_thread.join(timeout=15)

    assert [j["job_id"] for j in successor["body"]["jobs"]] == [job_id]
    assert successor["at"] - rung < 1.5  # whichever poll the doorbell woke, the new one has the job now
    assert (orphan["status"], orphan["body"]["jobs"]) == (200, [])
    assert Job.get(job_id).attempt == 1


def test_a_replaced_process_s_poll_leaves_a_job_it_finds_in_the_table(client: Client, make_operator: Any,
                                                                       enrol: Any) -> None:
    op, host, orphan, orphan_thread = _host_with_a_waiting_poll(client, make_operator, enrol, "dead-process", 2)
    answer = client.http.post("/agent/v1/poll?wait=0", headers=_as_process(host, "new-process"), body="{}")
    assert answer.json_body["jobs"] == []
    [job_id] = queue_without_ringing(host.agent_id, op.user_id)  # its ring lost: found by the end-of-wait query
    orphan_thread.join(timeout=10)

    assert orphan["body"]["jobs"] == []
    assert Job.get(job_id).status == "queued"
    claimed = client.http.post("/agent/v1/poll?wait=0", headers=_as_process(host, "new-process"), body="{}")
    assert [j["job_id"] for j in claimed.json_body["jobs"]] == [job_id]


def test_a_waiting_poll_of_a_host_deregistered_meanwhile_claims_nothing(client: Client, make_operator: Any,
                                                                        enrol: Any) -> None:
    op, host, waiting, thread = _host_with_a_waiting_poll(client, make_operator, enrol, "the-process", 10)
    [job_id] = queue_without_ringing(host.agent_id, op.user_id)
    assert client.http.delete(f"/api/agents/{host.agent_id}", headers=op.headers).status_code == 200
    doorbell.ring(Agent.get(host.agent_id).queue_url, job_id)  # a ring from before the deregistration
    thread.join(timeout=15)

    assert (waiting["status"], waiting["body"]["error"]["code"]) == (401, "agent_revoked")
    assert Job.get(job_id).attempt == 0


def test_poll_claims_and_signs_the_job(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue_job(client, op, host)
    [claimed] = _poll(client, host)
    announcement = client.http.post(
        "/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": [VM]})
    ).json_body["key_announcement"]
    register_keys = json.loads(_b64d(announcement["payload"]))["keys"]
    envelope = claimed["envelope"]
    public = {k["kid"]: Ed25519PublicKey.from_public_bytes(_b64d(k["public_key"])) for k in register_keys}
    raw = _b64d(envelope["payload"])
    public[envelope["kid"]].verify(_b64d(envelope["sig"]), raw)
    payload = json.loads(raw)
    assert (payload["job_id"], payload["agent_id"], payload["op"], payload["attempt"]) == (
        job_id,
        host.agent_id,
        "vm.shutdown",
        1,
    )
    assert payload["args"] == {"vm_uuid": VM["uuid"]}
    assert claimed["job_id"] == job_id
    assert payload["expires_at"] <= claimed["lease_expires_at"]
    assert Job.get(job_id).status == "claimed"
    assert _poll(client, host) == []  # claimed once only


def test_heartbeats_announce_the_signing_keys_signed_by_each_of_them(client: Client, make_operator: Any,
                                                                    enrol: Any) -> None:
    host: FakeHost = enrol(make_operator())
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": [VM]})).json_body
    assert "signing_keys" not in answer  # no unsigned list: keys change only through the signed announcement
    announcement = answer["key_announcement"]
    raw = _b64d(announcement["payload"])
    payload = json.loads(raw)
    assert (payload["v"], payload["type"], payload["serial"]) == (1, "signing_keys", 1)
    public = {k["kid"]: Ed25519PublicKey.from_public_bytes(_b64d(k["public_key"])) for k in payload["keys"]}
    assert sorted(sig["kid"] for sig in announcement["sigs"]) == sorted(public)
    for sig in announcement["sigs"]:
        public[sig["kid"]].verify(_b64d(sig["sig"]), raw)


def test_lease_then_complete_with_result_updates_job_and_vm(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue_job(client, op, host)
    [claimed] = _poll(client, host)
    token = claimed["claim_token"]
    lease = _post(client, host, f"/agent/v1/jobs/{job_id}/lease", {"claim_token": token, "running": True})
    assert lease.status_code == 200 and lease.json_body["cancel"] is False
    assert Job.get(job_id).status == "running"
    result = b'{"ok": true}'
    assert requests.put(claimed["uploads"]["result"]["url"], data=result, timeout=10).status_code == 200
    done = _post(
        client,
        host,
        f"/agent/v1/jobs/{job_id}/complete",
        {
            "claim_token": token,
            "exit_code": 0,
            "summary": "VM shut down",
            "outputs": ["result"],
            "vm": {"uuid": VM["uuid"], "name": "test", "state": "shutoff"},
        },
    )
    assert done.status_code == 200 and done.json_body == {"status": "succeeded"}
    job = client.http.get(f"/api/jobs/{job_id}", headers=op.headers).json_body
    assert (job["status"], job["exit_code"], job["result"]["size"]) == ("succeeded", 0, len(result))
    assert requests.get(job["result"]["url"], timeout=10).content == result
    vm = client.http.get(f"/api/agents/{host.agent_id}/vms/test", headers=op.headers).json_body
    assert vm["state"] == "shutoff"


def _claimed_beside_another_host(client: Client, make_operator: Any, enrol: Any) -> tuple[FakeHost, FakeHost, str, Any]:
    """A job claimed by one host, and another host of the same owner."""
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    other: FakeHost = enrol(op)
    job_id = _queue_job(client, op, host)
    [claimed] = _poll(client, host)
    return host, other, job_id, claimed


def test_stale_claim_and_other_agents_are_refused(client: Client, make_operator: Any, enrol: Any) -> None:
    host, other, job_id, claimed = _claimed_beside_another_host(client, make_operator, enrol)
    stale = _post(client, host, f"/agent/v1/jobs/{job_id}/lease", {"claim_token": "not-the-token"})
    assert (stale.status_code, stale.json_body["error"]["code"]) == (409, "stale_claim")
    for path in ("lease", "complete"):
        answer = _post(
            client, other, f"/agent/v1/jobs/{job_id}/{path}", {"claim_token": claimed["claim_token"], "exit_code": 0}
        )
        assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "job_not_found")
    assert Job.get(job_id).status == "claimed"


def test_completion_naming_a_missing_upload_is_refused(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue_job(client, op, host)
    [claimed] = _poll(client, host)
    answer = _post(
        client,
        host,
        f"/agent/v1/jobs/{job_id}/complete",
        {"claim_token": claimed["claim_token"], "exit_code": 0, "outputs": ["result"]},
    )
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "upload_missing")
    assert Job.get(job_id).status == "claimed"


def test_a_lost_claim_hears_so_before_its_missing_upload(client: Client, make_operator: Any, enrol: Any) -> None:
    host, other, job_id, claimed = _claimed_beside_another_host(client, make_operator, enrol)
    complete = f"/agent/v1/jobs/{job_id}/complete"
    stale = _post(client, host, complete, {"claim_token": "not-the-token", "exit_code": 0, "outputs": ["result"]})
    assert (stale.status_code, stale.json_body["error"]["code"]) == (409, "stale_claim")
    body = {"claim_token": claimed["claim_token"], "exit_code": 0, "outputs": ["result"]}
    assert requests.put(claimed["uploads"]["result"]["url"], data=b"{}", timeout=10).status_code == 200
    theirs = _post(client, other, complete, body)
    assert (theirs.status_code, theirs.json_body["error"]["code"]) == (404, "job_not_found")
    assert Job.get(job_id).status == "claimed" and Job.get(job_id).result_key is None


def test_final_jobs_do_not_change_again(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue_job(client, op, host)
    [claimed] = _poll(client, host)
    body = {"claim_token": claimed["claim_token"], "exit_code": 1, "summary": "VM is not running"}
    assert _post(client, host, f"/agent/v1/jobs/{job_id}/complete", body).json_body == {"status": "failed"}
    again = _post(client, host, f"/agent/v1/jobs/{job_id}/complete", {**body, "exit_code": 0})
    assert again.status_code == 409
    assert Job.get(job_id).status == "failed"


ONE_MB = 1_000_000


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"token": "fvet_unknown"}, 403, "enrollment_refused"),
        ({"public_key": "abc"}, 400, "invalid_request"),
        ({"name": "bad\nname"}, 400, "invalid_request"),
        ({"name": "../../etc/passwd"}, 400, "invalid_request"),
        ({"name": "trailing-newline\n"}, 400, "invalid_request"),
        ({"capabilities": {"blob": "x" * 20000}}, 400, "invalid_request"),
        ({"capabilities": {"blob": "x" * ONE_MB}}, 413, "payload_too_large"),
    ],
)
def test_bad_enrolments_are_refused(client: Client, make_operator: Any, change: dict, status: int,
                                    code: str) -> None:
    op: Operator = make_operator()
    token, _ = enrollment.mint_token(op.user_id)
    body = {
        "token": token,
        "name": "host-a",
        "hostname": "h",
        "capabilities": {},
        "public_key": public_b64(Ed25519PrivateKey.generate()),
        **change,
    }
    answer = client.http.post("/agent/v1/register", headers=JSON, body=json.dumps(body))
    assert (answer.status_code, answer.json_body["error"]["code"]) == (status, code)
    assert client.http.get("/api/agents", headers=op.headers).json_body == {"agents": []}


def test_a_token_is_spent_by_its_use(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    token, _ = enrollment.mint_token(op.user_id)
    body = {"token": token, "name": "host-b", "public_key": public_b64(Ed25519PrivateKey.generate())}
    assert client.http.post("/agent/v1/register", headers=JSON, body=json.dumps(body)).status_code == 200
    reused = client.http.post("/agent/v1/register", headers=JSON, body=json.dumps({**body, "name": "host-c"}))
    assert (reused.status_code, reused.json_body["error"]["code"]) == (403, "enrollment_refused")


def _refused_poll(client: Client, token: str, queued_job_id: str) -> None:
    """A poll with `token` is 401 unauthorized, and the job queued for the host it names stays queued."""
    answer = client.http.post("/agent/v1/poll?wait=0", headers={**JSON, "Authorization": f"Bearer {token}"},
                              body="{}")
    assert (answer.status_code, answer.json_body["error"]["code"]) == (401, "unauthorized")
    assert Job.get(queued_job_id).status == "queued"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "fleetvisor-api"},
        {"exp": 1},
        {"sub": "ag_nobody"},
        {"iat": 0, "exp": 99999999999},
        {"typ": "JWT"},
        {"typ": "at+jwt"},  # the operator API's access tokens
        {"typ": None},
    ],
)
def test_bad_agent_tokens_are_401(client: Client, make_operator: Any, enrol: Any, changes: dict) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    [job_id] = queue_without_ringing(host.agent_id, op.user_id)
    _refused_poll(client, host.token(**changes), job_id)


def test_a_token_naming_another_host_but_signed_by_this_one_is_401(client: Client, make_operator: Any,
                                                                  enrol: Any) -> None:
    op: Operator = make_operator()
    signer: FakeHost = enrol(op)
    victim: FakeHost = enrol(op)
    [job_id] = queue_without_ringing(victim.agent_id, op.user_id)
    before = Agent.get(victim.agent_id).attribute_values
    forged = signer.token(sub=victim.agent_id)

    beat = client.http.post("/agent/v1/heartbeat", headers={**JSON, "Authorization": f"Bearer {forged}"},
                            body=json.dumps({"capabilities": {"cpus": 64}, "vms": []}))

    assert (beat.status_code, beat.json_body["error"]["code"]) == (401, "unauthorized")
    _refused_poll(client, forged, job_id)
    assert Agent.get(victim.agent_id).attribute_values == before
    vms = client.http.get(f"/api/agents/{victim.agent_id}/vms", headers=op.headers).json_body["vms"]
    assert [v["uuid"] for v in vms] == [VM["uuid"]]


def test_operator_token_is_not_an_agent_token(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    answer = client.http.post("/agent/v1/poll?wait=0", headers=op.headers, body="{}")
    assert answer.status_code == 401


def test_heartbeat_refuses_bad_inventory_and_keeps_the_old(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    for vms in ([{**VM, "state": "exploded"}], [{**VM, "uuid": "../x"}], [VM, VM], "nope"):
        answer = client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": vms}))
        assert answer.status_code == 400
    vms_now = client.http.get(f"/api/agents/{host.agent_id}/vms", headers=op.headers).json_body["vms"]
    assert [(v["uuid"], v["state"]) for v in vms_now] == [(VM["uuid"], "running")]


@pytest.mark.parametrize(("blob_bytes", "status", "code"),
                         [(ONE_MB, 400, "invalid_request"),  # within the heartbeat's 1 MiB body, over 16 KiB of it
                          (1024 * 1024, 413, "payload_too_large")])
def test_heartbeat_refuses_oversized_capabilities_and_keeps_the_old(client: Client, make_operator: Any, enrol: Any,
                                                                    blob_bytes: int, status: int, code: str) -> None:
    host: FakeHost = enrol(make_operator())
    before = Agent.get(host.agent_id)
    body = {"capabilities": {"blob": "x" * blob_bytes}, "vms": [VM]}
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps(body))
    assert (answer.status_code, answer.json_body["error"]["code"]) == (status, code)
    after = Agent.get(host.agent_id)
    assert (after.capabilities, after.last_seen_ms) == ({"cpus": 2}, before.last_seen_ms)


def test_a_heartbeat_without_capabilities_keeps_the_last_reported(client: Client, make_operator: Any,
                                                                  enrol: Any) -> None:
    host: FakeHost = enrol(make_operator())
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": [VM]}))
    assert answer.status_code == 200, answer.body
    assert Agent.get(host.agent_id).capabilities == {"cpus": 2}


def _last_heard(host: FakeHost, seconds_ago: int) -> int:
    """Make the host's last heartbeat `seconds_ago` old by the server's clock; the stored time it now has."""
    seen_ms = int(time.time() * 1000) - seconds_ago * 1000
    Agent.get(host.agent_id).update(actions=[Agent.last_seen_ms.set(seen_ms)])
    return seen_ms


def test_a_silent_host_goes_stale_then_lost_and_a_heartbeat_brings_it_back(client: Client, make_operator: Any,
                                                                         enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    stale, lost = settings().stale_after_seconds, settings().lost_after_seconds  # 9 and 30 minutes by default

    def listed() -> tuple[str, int]:
        [agent] = client.http.get("/api/agents", headers=op.headers).json_body["agents"]
        return agent["status"], agent["last_seen_ms"]

    for seconds_ago, status in ((stale - 1, "online"), (stale, "stale"), (lost - 1, "stale"), (lost, "lost")):
        seen_ms = _last_heard(host, seconds_ago)
        assert listed() == (status, seen_ms), seconds_ago

    before_ms = int(time.time() * 1000)
    assert client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": [VM]})).status_code \
        == 200
    status, seen_ms = listed()
    assert status == "online" and before_ms <= seen_ms <= int(time.time() * 1000)  # stamped by the server


def test_fresh_upload_urls_for_the_held_attempt_only(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    job_id = _queue_job(client, op, host)
    [claimed] = _poll(client, host)
    fresh = _post(client, host, f"/agent/v1/jobs/{job_id}/uploads", {"claim_token": claimed["claim_token"]})
    assert fresh.status_code == 200
    assert fresh.json_body["uploads"]["result"]["key"] == claimed["uploads"]["result"]["key"]
    stale = _post(client, host, f"/agent/v1/jobs/{job_id}/uploads", {"claim_token": "nope"})
    assert (stale.status_code, stale.json_body["error"]["code"]) == (409, "stale_claim")


def test_a_job_from_the_web_app_costs_twelve_store_and_object_requests(
        client: Client, make_operator: Any, enrol: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinned so that a change adding a round trip to the job path is seen (bench/requests_per_job.py
    prints the same figures); the web app names the VM by UUID."""
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    counts: Counter[str] = Counter()
    send = botocore.endpoint.Endpoint.make_request

    def counting(endpoint: Any, operation: Any, request: Any) -> Any:
        counts[f"{operation.service_model.service_name}.{operation.name}"] += 1
        return send(endpoint, operation, request)

    def cost(call: Callable[[], Any]) -> dict[str, int]:
        counts.clear()
        call()
        return {name: n for name, n in counts.items() if not name.startswith("secretsmanager.")}

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", counting)
    posted = cost(lambda: client.http.post(f"/api/agents/{host.agent_id}/vms/{VM['uuid']}/actions",
                                           headers=op.headers, body='{"action": "reboot"}'))
    claimed: list[dict[str, Any]] = []
    polled = cost(lambda: claimed.extend(_poll(client, host)))
    job_id, token = claimed[0]["job_id"], claimed[0]["claim_token"]
    leased = cost(lambda: _post(client, host, f"/agent/v1/jobs/{job_id}/lease",
                                {"claim_token": token, "running": True}))
    assert requests.put(claimed[0]["uploads"]["result"]["url"], data=b"{}", timeout=10).status_code == 200
    completed = cost(lambda: _post(client, host, f"/agent/v1/jobs/{job_id}/complete",
                                   {"claim_token": token, "exit_code": 0, "outputs": ["result"], "vm": VM}))

    assert posted == {"dynamodb.BatchGetItem": 1, "dynamodb.BatchWriteItem": 1, "sqs.SendMessage": 1}
    assert polled == {"dynamodb.GetItem": 1, "dynamodb.Query": 1, "dynamodb.UpdateItem": 1}
    assert leased == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 1}
    assert completed == {"dynamodb.GetItem": 1, "s3.HeadObject": 1, "dynamodb.UpdateItem": 2}
    assert Job.get(job_id).status == "succeeded"
