"""GET /api/changes: an open hosts page hears at once that a VM or host changed behind its back.

The page reads the feed object (changes/<owner>) from moto's S3 server over real HTTP, through the
presigned URL the API hands out; the long poll (`wait`) is what older clients still hold."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from chalice.test import Client
from chalicelib import aws
from chalicelib.agents.models import Agent
from chalicelib.changes import logic
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


# -- the feed: what the web app polls, straight from S3 ---------------------------------------------
def _feed(client: Client, op: Operator, query: str = "") -> dict[str, Any]:
    answer = _version(client, op, query)
    assert answer.status_code == 200, answer.body
    return dict(answer.json_body)


def _read(url: str) -> Any:
    """What a browser's plain GET of the feed URL reads (no header of ours)."""
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _stored(owner_id: str) -> dict[str, Any]:
    return dict(aws.s3().get_object(Bucket=settings().bucket, Key=logic.object_key(owner_id)))


@pytest.fixture
def s3_puts_fail(app: Any) -> Iterator[Callable[[], None]]:
    """Make the control plane's PutObject calls fail, as an S3 outage or a missing grant would."""
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "PutObject")

    event = "before-call.s3.PutObject"
    yield lambda: aws.s3().meta.events.register(event, refuse)
    aws.s3().meta.events.unregister(event, refuse)


def test_the_answer_carries_a_feed_url_the_page_reads_the_version_from(client: Client, make_operator: Any,
                                                                        enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[VM])
    started = int(time.time())
    answer = _feed(client, op)
    feed = answer["feed"]
    assert feed["poll_ms"] == 1500
    assert started + 890 <= feed["expires_at"] <= int(time.time()) + 900
    assert f"/{settings().bucket}/changes/{op.user_id}?" in feed["url"] and "X-Amz-Signature=" in feed["url"]
    assert _read(feed["url"]) == {"version": answer["version"]}

    _beat(client, host, [{**VM, "state": "shutoff", "state_reason": "destroyed"}])  # `virsh destroy`
    assert _read(feed["url"]) == {"version": answer["version"] + 1}  # the same URL, no API call


def test_a_bump_writes_the_object_no_cache_may_keep(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[VM])
    _beat(client, host, [{**VM, "state": "paused"}])
    stored = _stored(op.user_id)
    assert json.loads(stored["Body"].read()) == {"version": _now(client, op)}
    assert (stored["ContentType"], stored["CacheControl"]) == ("application/json", "no-store")


def test_a_quiet_beat_writes_nothing(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[VM])
    before = _stored(op.user_id)["ETag"], _now(client, op)
    _beat(client, host, [VM])
    assert (_stored(op.user_id)["ETag"], _now(client, op)) == before


def test_the_feed_is_made_for_an_owner_who_never_had_a_change(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    answer = _feed(client, op)
    assert answer["version"] == 0
    assert _read(answer["feed"]["url"]) == {"version": 0}


def test_making_sure_the_feed_exists_never_overwrites_what_a_bump_wrote(client: Client, make_operator: Any,
                                                                        enrol: Any) -> None:
    op: Operator = make_operator()
    enrol(op, vms=[VM])
    # A bump that raced this read: the counter read says N, the object already holds a later version.
    aws.s3().put_object(Bucket=settings().bucket, Key=logic.object_key(op.user_id), Body=b'{"version": 99}')
    answer = _feed(client, op)
    assert answer["version"] != 99
    assert _read(answer["feed"]["url"]) == {"version": 99}


def test_a_lost_object_is_made_again_with_the_counter_s_version(client: Client, make_operator: Any,
                                                               enrol: Any) -> None:
    op: Operator = make_operator()
    enrol(op, vms=[VM])
    aws.s3().delete_object(Bucket=settings().bucket, Key=logic.object_key(op.user_id))
    answer = _feed(client, op)
    assert _read(answer["feed"]["url"]) == {"version": answer["version"]} and answer["version"] > 0


def test_a_failed_put_fails_neither_the_heartbeat_nor_the_counter(client: Client, make_operator: Any, enrol: Any,
                                                                 s3_puts_fail: Callable[[], None]) -> None:
    op: Operator = make_operator()
    host: FakeHost = enrol(op, vms=[VM])
    before = _now(client, op)
    s3_puts_fail()
    _beat(client, host, [{**VM, "state": "shutoff"}])
    assert logic.current(op.user_id) == before + 1  # the long poll (and the next feed answer) still see it
    assert json.loads(_stored(op.user_id)["Body"].read()) == {"version": before}  # the copy lags


def test_a_feed_that_cannot_be_made_is_503_not_a_url_to_nothing(client: Client, make_operator: Any,
                                                                 s3_puts_fail: Callable[[], None]) -> None:
    op: Operator = make_operator()
    s3_puts_fail()
    answer = _version(client, op)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (503, "feed_unavailable")
    with pytest.raises(ClientError):
        _stored(op.user_id)


def test_the_long_poll_answers_the_version_alone_as_it_always_did(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    answer = _version(client, op, "?after=12345&wait=1")
    assert answer.status_code == 200 and answer.json_body == {"version": 0}
