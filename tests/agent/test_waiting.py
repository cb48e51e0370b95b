"""Where the agent waits between jobs (waiting.QueueWaiter): its own queue while it can, the API's long
poll while it cannot, and back to the queue later. SQS and the control plane are scripted here; the
same paths run against moto and a real stack in tests/agent/test_sqs.py and tests/e2e/test_queue_faults.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from fleetvisor_agent.client import ApiError, RawAnswer, Unauthorized, Unreachable
from fleetvisor_agent.waiting import (
    DENIED_SECONDS,
    LISTEN_GAP_SECONDS,
    NO_DOORBELL_SECONDS,
    REFRESHES_BEFORE_FALLBACK,
    ConsoleRings,
    QueueWaiter,
)

NOW = 1_800_000_000.0
ACCESS = {"queue_url": "http://sqs.local/123456789012/fleetvisor-dev-agent-ag_1", "region": "us-east-1",
          "endpoint": "http://sqs.local", "wait_seconds": 20,
          "credentials": {"access_key_id": "AKIA", "secret_access_key": "s", "session_token": "t",
                          "expires_at": int(NOW) + 3600}}


def _ok(body: dict[str, Any]) -> RawAnswer:
    return RawAnswer(200, {}, json.dumps(body).encode())


def _refused(status: int, kind: str) -> RawAnswer:
    return RawAnswer(status, {}, json.dumps({"__type": f"com.amazonaws.sqs#{kind}", "message": kind}).encode())


RING = _ok({"Messages": [{"Body": "job_" + "a" * 32, "ReceiptHandle": "h1", "MessageId": "m1"}]})
QUIET = _ok({})
DELETED = _ok({"Successful": [{"Id": "0"}], "Failed": []})


class ScriptedControlPlane:
    """`doorbell()` answers (or raises) from a list; `post_raw` (SQS) answers from another, per target."""

    def __init__(self, sqs: list[Any], doorbell: list[Any] | None = None) -> None:
        self.sqs = list(sqs)
        self.doorbell_answers = list(doorbell or [])
        self.doorbell_calls = 0
        self.targets: list[str] = []

    def doorbell(self) -> dict[str, Any]:
        self.doorbell_calls += 1
        answer = self.doorbell_answers.pop(0) if self.doorbell_answers else ACCESS
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    def post_raw(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> RawAnswer:
        self.targets.append(headers["X-Amz-Target"].rsplit(".", 1)[-1])
        answer = self.sqs.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    def server_now(self) -> float:
        return NOW


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _waiter(plane: ScriptedControlPlane, clock: Clock) -> QueueWaiter:
    return QueueWaiter(plane, backoff_base=1.0, clock=clock)  # type: ignore[arg-type]


def test_a_ring_is_read_deleted_and_handed_over_and_a_quiet_wait_asks_nothing_of_the_api() -> None:
    plane, clock = ScriptedControlPlane([RING, DELETED, QUIET]), Clock()
    waiter = _waiter(plane, clock)
    assert waiter.wait() == ["job_" + "a" * 32]
    assert waiter.wait() == []
    assert plane.targets == ["ReceiveMessage", "DeleteMessageBatch", "ReceiveMessage"]
    assert plane.doorbell_calls == 1 and waiter.in_use


def test_rings_whose_delete_is_refused_are_still_handed_over_and_the_queue_is_asked_for_again() -> None:
    plane, clock = ScriptedControlPlane([RING, _refused(400, "ExpiredToken"), QUIET]), Clock()
    waiter = _waiter(plane, clock)
    assert waiter.wait() == ["job_" + "a" * 32]
    assert waiter.wait() == []
    assert plane.doorbell_calls == 2


def test_a_control_plane_without_a_doorbell_means_the_api_for_ten_minutes() -> None:
    plane = ScriptedControlPlane([QUIET], doorbell=[ApiError(404, "doorbell_unavailable", "none")])
    clock = Clock()
    waiter = _waiter(plane, clock)
    assert waiter.wait() is None
    clock.now = NO_DOORBELL_SECONDS - 1
    assert waiter.wait() is None and plane.doorbell_calls == 1
    clock.now = NO_DOORBELL_SECONDS + 1
    assert waiter.wait() == [] and plane.doorbell_calls == 2


def test_sqs_unreachable_means_the_api_for_a_backoff_then_the_queue_again() -> None:
    plane, clock = ScriptedControlPlane([Unreachable(0, "unreachable", "stalled"), QUIET]), Clock()
    waiter = _waiter(plane, clock)
    assert waiter.wait() is None
    clock.now = 1.0  # the first backoff is at most its 1 s base
    assert waiter.wait() == []


def test_access_denied_means_the_api_for_five_minutes() -> None:
    plane, clock = ScriptedControlPlane([_refused(403, "AccessDenied"), QUIET]), Clock()
    waiter = _waiter(plane, clock)
    assert waiter.wait() is None
    clock.now = DENIED_SECONDS - 1
    assert waiter.wait() is None
    clock.now = DENIED_SECONDS + 1
    assert waiter.wait() == []


def test_credentials_refused_again_and_again_fall_back_to_the_api() -> None:
    refusals = [_refused(403, "InvalidClientTokenId") for _ in range(REFRESHES_BEFORE_FALLBACK)]
    plane, clock = ScriptedControlPlane([*refusals, QUIET]), Clock()
    waiter = _waiter(plane, clock)
    answers = [waiter.wait() for _ in range(REFRESHES_BEFORE_FALLBACK)]
    assert answers == [[]] * (REFRESHES_BEFORE_FALLBACK - 1) + [None]
    assert plane.doorbell_calls == REFRESHES_BEFORE_FALLBACK


def test_a_revoked_host_is_told_so_not_sent_to_the_api() -> None:
    plane = ScriptedControlPlane([], doorbell=[Unauthorized(401, "agent_revoked", "deregistered")])
    with pytest.raises(Unauthorized):
        _waiter(plane, Clock()).wait()


def test_pings_console_and_metrics_rings_go_to_their_listeners_and_only_jobs_are_claimed() -> None:
    bodies = ["ping", "console:c0ffee", "metrics:u 1 https://x", "job_" + "b" * 32, "cancel:job_" + "c" * 32,
              "something-newer"]
    mixed = _ok({"Messages": [{"Body": body, "ReceiptHandle": f"h{i}", "MessageId": f"m{i}"}
                              for i, body in enumerate(bodies)]})
    plane, pings, consoles, watched = ScriptedControlPlane([mixed, DELETED, PING_ONLY, DELETED]), [], [], []
    waiter = QueueWaiter(plane, backoff_base=1.0, clock=Clock(), on_ping=lambda: pings.append(1),  # type: ignore[arg-type]
                         on_console=consoles.append, on_metrics=watched.append)
    assert waiter.wait() == ["job_" + "b" * 32, "cancel:job_" + "c" * 32]
    assert (pings, consoles, watched) == ([1], ["c0ffee"], ["u 1 https://x"])
    assert plane.targets == ["ReceiveMessage", "DeleteMessageBatch"]  # every ring read is removed, known or not
    assert waiter.wait() == [] and pings == [1, 1]


PING_ONLY = _ok({"Messages": [{"Body": "ping", "ReceiptHandle": "h9", "MessageId": "m9"}]})


def test_a_stopping_agent_leaves_its_receive_at_once_and_what_it_reads_later_is_not_deleted() -> None:
    answered = threading.Event()

    class SlowQueue(ScriptedControlPlane):
        def post_raw(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> RawAnswer:
            answered.wait(5)  # SQS holding the 20 s receive
            return super().post_raw(url, body, headers, timeout=timeout)

    plane, stop = SlowQueue([RING, DELETED]), threading.Event()
    waiter = QueueWaiter(plane, backoff_base=1.0, clock=Clock(), stop=stop)  # type: ignore[arg-type]
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()

    assert waiter.wait() == []
    assert time.monotonic() - started < 0.7
    answered.set()  # the abandoned receive ends and reads a ring: it stays in the queue for the next process
    time.sleep(0.2)
    assert plane.targets == ["ReceiveMessage"]


def test_console_sessions_count_on_rings_only_while_the_queue_is_read() -> None:
    class Receiving(ScriptedControlPlane):
        def post_raw(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> RawAnswer:
            during.append(waiter.listening)
            return super().post_raw(url, body, headers, timeout=timeout)

    during: list[bool] = []
    plane, clock = Receiving([QUIET, QUIET, _refused(403, "AccessDenied")]), Clock()
    waiter = _waiter(plane, clock)
    assert not waiter.listening  # nothing read yet
    assert waiter.wait() == [] and during == [True]
    clock.now += LISTEN_GAP_SECONDS - 1
    assert waiter.listening  # between two receives of the poll loop
    clock.now += 2
    assert not waiter.listening  # the loop stopped reading (every job slot busy): rings would wait
    assert waiter.wait() == [] and waiter.listening
    assert waiter.wait() is None and not waiter.listening  # waiting in the API: rings are not read


def test_a_console_ring_reaches_the_session_that_waits_for_it_and_no_other() -> None:
    rings = ConsoleRings(lambda: True)
    mine, other = threading.Event(), threading.Event()
    with rings.bell("c0ffee", mine), rings.bell("beef", other):
        rings.ring("c0ffee")
        assert mine.is_set() and not other.is_set()
    mine.clear()
    rings.ring("c0ffee")  # the session ended: nobody listens, nothing breaks
    assert not mine.is_set() and rings.listening()
