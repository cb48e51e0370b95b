"""GET /api/changes: an open hosts page hears at once that a VM or host changed behind its back."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from chalice.test import Client
from chalicelib.agents.models import Agent
from chalicelib.settings import settings

from .conftest import VM, FakeHost, Operator


def _version(client: Client, op: Operator, query: str = "") -> Any:
    return client.http.get(f"/api/changes{query}", headers=op.headers)


def _now(client: Client, op: Operator) -> int:
    answer = _version(client, op)
    assert answer.status_code == 200, answer.body
    return int(answer.json_body["version"])


def _beat(client: Client, host: FakeHost, vms: list[dict[str, Any]]) -> None:
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers, body=json.dumps({"vms": vms}))
    assert answer.status_code == 200, answer.body


def _waits(client: Client, op: Operator, after: int, wait: int = 1) -> tuple[int, float]:
    started = time.monotonic()
    answer = _version(client, op, f"?after={after}&wait={wait}")
    assert answer.status_code == 200, answer.body
    return int(answer.json_body["version"]), time.monotonic() - started


def test_a_vm_changed_outside_fleetvisor_moves_the_version_and_a_quiet_beat_does_not(
        client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[VM])
    before = _now(client, op)

    _beat(client, host, [VM])  # nothing changed: the page has nothing to refetch
    version, waited = _waits(client, op, before)
    assert version == before and waited >= 0.9  # it held the call for the whole wait

    _beat(client, host, [{**VM, "state": "shutoff", "state_reason": "destroyed"}])  # `virsh destroy`
    version, waited = _waits(client, op, before)
    assert version != before and waited < 0.5


def test_a_waiting_page_is_answered_within_half_a_second_of_the_heartbeat(client: Client, make_operator: Any,
                                                                          enrol: Any, app: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[VM])
    before = _now(client, op)
    heard: list[tuple[int, float]] = []
    waiting = threading.Thread(target=lambda: heard.append(_waits(Client(app), op, before, wait=10)))
    waiting.start()
    time.sleep(1)  # the page is waiting before the change happens
    changed_at = time.monotonic()
    _beat(client, host, [{**VM, "state": "paused"}])
    waiting.join(timeout=10)
    [(version, waited)] = heard
    assert version != before
    assert 1 <= waited < 1 + (time.monotonic() - changed_at) + 0.5


def test_a_job_that_changed_a_vm_moves_the_version(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[{**VM, "state": "shutoff"}])
    job = client.http.post(f"/api/agents/{host.agent_id}/vms/test/actions", headers=op.headers,
                           body=json.dumps({"action": "start"})).json_body
    [claimed] = client.http.post("/agent/v1/poll?wait=0", headers=host.headers,
                                 body=json.dumps({"max_jobs": 1})).json_body["jobs"]
    before = _now(client, op)
    done = client.http.post(f"/agent/v1/jobs/{job['job_id']}/complete", headers=host.headers,
                            body=json.dumps({"claim_token": claimed["claim_token"], "exit_code": 0,
                                             "vm": {**VM, "state": "running"}}))
    assert done.status_code == 200, done.body
    assert _now(client, op) == before + 1


def test_a_host_enrolling_or_coming_back_moves_the_version(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    first = _now(client, op)
    host: FakeHost = enrol(op, vms=[VM])
    enrolled = _now(client, op)
    assert enrolled > first

    stale_ms = (settings().stale_after_seconds + 10) * 1000
    Agent.get(host.agent_id).update(actions=[Agent.last_seen_ms.set(int(time.time() * 1000) - stale_ms)])
    _beat(client, host, [VM])  # the same VMs: only the host's return is news
    assert _now(client, op) == enrolled + 1


def test_another_owners_changes_do_not_wake_my_page(client: Client, make_operator: Any, enrol: Any) -> None:
    mine: Operator = make_operator()
    theirs: Operator = make_operator()
    enrol(mine, vms=[VM])
    their_host: FakeHost = enrol(theirs, vms=[VM])
    before = _now(client, mine)
    _beat(client, their_host, [{**VM, "state": "shutoff"}])
    assert _waits(client, mine, before)[0] == before


def test_bad_cursors_are_400_and_no_token_is_401(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    for query in ("?after=abc", "?after=1&wait=soon"):
        answer = _version(client, op, query)
        assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request"), query
    assert client.http.get("/api/changes").status_code == 401
