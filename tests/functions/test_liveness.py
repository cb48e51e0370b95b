"""Liveness at a price: hosts beat every few minutes, and an open page asks quiet hosts for a sign of life.

`POST /api/agents/ping` rings each quiet host's doorbell with `ping`; a ping
unanswered for `ping_answer_seconds` shows the host stale, and the heartbeat that
answers it brings the host back (and wakes open pages).
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalice.test import Client
from chalicelib import aws
from chalicelib.agents.models import Agent
from chalicelib.changes import logic as changes
from chalicelib.jobs import dispatch, doorbell
from chalicelib.settings import settings

from .conftest import VM, FakeHost, Operator
from .conftest import drain_rings as _drain


def _heard(host: FakeHost, seconds_ago: float) -> None:
    Agent.get(host.agent_id).update(actions=[Agent.last_seen_ms.set(int((time.time() - seconds_ago) * 1000))])


def _pinged(host: FakeHost, seconds_ago: float) -> None:
    Agent.get(host.agent_id).update(actions=[Agent.pinged_ms.set(int((time.time() - seconds_ago) * 1000))])


def _ping(client: Client, op: Operator, query: str = "") -> Any:
    return client.http.post(f"/api/agents/ping{query}", headers=op.headers)


def _status(client: Client, op: Operator, host: FakeHost) -> str:
    answer = client.http.get(f"/api/agents/{host.agent_id}", headers=op.headers)
    assert answer.status_code == 200, answer.body
    return str(answer.json_body["status"])


def _beat(client: Client, host: FakeHost) -> None:
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers,
                              body=json.dumps({"capabilities": {"cpus": 2}, "vms": [VM], "running_jobs": []}))
    assert answer.status_code == 200, answer.body


def test_a_page_rings_only_its_quiet_hosts_and_only_once_while_they_answer(client: Client, make_operator: Any,
                                                                        enrol: Any) -> None:
    op: Operator = make_operator()
    quiet, fresh = enrol(op), enrol(op)
    _drain(quiet), _drain(fresh)
    _heard(quiet, settings().ping_after_seconds + 5)

    assert _ping(client, op).json_body == {"pinged": 1}
    assert (_drain(quiet), _drain(fresh)) == ([doorbell.PING], [])
    # A second page (or tab) moments later asks nobody again: the first ping is still being answered.
    assert _ping(client, op).json_body == {"pinged": 0}
    assert _drain(quiet) == []
    # Once the last ping is `ping_after_seconds` old, a still-quiet host is asked again.
    _pinged(quiet, settings().ping_after_seconds + 1)
    assert _ping(client, op).json_body == {"pinged": 1}
    assert _drain(quiet) == [doorbell.PING]


def test_an_unanswered_ping_shows_the_host_stale_and_its_answer_brings_it_back(client: Client, make_operator: Any,
                                                                            enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    _heard(host, settings().ping_after_seconds + 5)
    _ping(client, op)
    assert _status(client, op, host) == "online"  # asked just now: not yet a silence
    _pinged(host, settings().ping_answer_seconds + 1)
    assert _status(client, op, host) == "stale"

    version = changes.current(op.user_id)
    _beat(client, host)
    assert _status(client, op, host) == "online"
    assert changes.current(op.user_id) != version  # open pages hear that the host is back


def test_a_host_nobody_watches_stays_online_until_its_beats_are_overdue(client: Client, make_operator: Any,
                                                                       enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    stale = settings().stale_after_seconds
    assert 7 * 60 * 1.1 < stale <= 10 * 60  # a 7-minute beat ± 10 % may be late; a dead host shows within 10 minutes
    _heard(host, stale - 1)
    assert _status(client, op, host) == "online"
    _heard(host, stale)
    assert _status(client, op, host) == "stale"


def test_a_ping_the_doorbell_could_not_deliver_does_not_turn_the_host_stale(client: Client, make_operator: Any,
                                                                          enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    _heard(host, settings().ping_after_seconds + 5)
    aws.sqs().delete_queue(QueueUrl=Agent.get(host.agent_id).queue_url)

    assert _ping(client, op).json_body == {"pinged": 0}
    assert Agent.get(host.agent_id).pinged_ms is None
    assert _status(client, op, host) == "online"


def test_an_agent_in_the_api_long_poll_answers_a_ping_by_polling(client: Client, make_operator: Any,
                                                                enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    _drain(host)
    _heard(host, settings().ping_after_seconds + 5)
    _ping(client, op)
    _pinged(host, settings().ping_answer_seconds + 1)
    assert _status(client, op, host) == "stale"

    claimed, cancels = dispatch.poll(Agent.get(host.agent_id), wait=1, max_jobs=1)
    assert (claimed, cancels) == ([], [])  # the ping is nobody's job
    assert _status(client, op, host) == "online"


def test_pings_are_the_callers_own_hosts_and_need_a_login(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    _drain(host)
    _heard(host, settings().ping_after_seconds + 5)
    other: Operator = make_operator()

    assert _ping(client, other).json_body == {"pinged": 0}  # its own fleet is empty
    assert _drain(host) == []
    refused = _ping(client, other, f"?owner={owner.user_id}")
    assert (refused.status_code, refused.json_body["error"]["code"]) == (403, "admin_required")
    assert client.http.post("/api/agents/ping").status_code == 401
    assert _drain(host) == []


def test_a_page_asks_only_the_hosts_it_names_and_names_only_host_ids(client: Client, make_operator: Any,
                                                                      enrol: Any) -> None:
    op: Operator = make_operator()
    shown, scrolled_away = enrol(op), enrol(op)
    for host in (shown, scrolled_away):
        _drain(host)
        _heard(host, settings().ping_after_seconds + 5)

    answer = client.http.post("/api/agents/ping", headers=op.headers,
                              body=json.dumps({"agent_ids": [shown.agent_id, "ag_" + "0" * 32]}))
    assert answer.json_body == {"pinged": 1}  # an id of no host of the caller's asks nobody
    assert (_drain(shown), _drain(scrolled_away)) == ([doorbell.PING], [])
    for bad in (["not-a-host"], "ag_x", [1], ["ag_" + "0" * 32] * 201):
        refused = client.http.post("/api/agents/ping", headers=op.headers, body=json.dumps({"agent_ids": bad}))
        assert (refused.status_code, refused.json_body["error"]["code"]) == (400, "invalid_request"), bad
