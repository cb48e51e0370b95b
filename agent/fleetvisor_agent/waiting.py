"""How the agent waits for work: on its own SQS queue when the control plane offers one, else in the API.

Waiting in the API's long poll holds a Lambda for the whole wait, billed by the
second; waiting on the host's own queue costs one SQS request per 20 s and
holds nothing. So the agent asks the control plane for its queue and
short-lived credentials (`POST /agent/v1/doorbell`, sqs.QueueAccess), long-polls
the queue, and calls the API only when something was rung, to claim it
(`POST /agent/v1/poll?wait=0` with what it heard). The queue is a hint and the
jobs table the truth: a ring read and then lost (the agent died before claiming)
is rung again by the control plane at the host's next heartbeat.

When the queue cannot be used, the agent waits in the API instead, as agents
before this one did, and tries the queue again later:
- the control plane offers no doorbell (404, an older one): for 10 minutes;
- SQS refuses the credentials outright (access denied): for 5 minutes;
- SQS is unreachable, throttling or failing: for a jittered, growing backoff;
- the credentials expired or the queue is gone (deregistered, or moto
  restarted under a local stack): new ones are asked for at once, falling back
  to the API after three such answers in a row.

Not every ring is a job. `ping` (someone is looking at the host and wants a
sign of life) goes to the heartbeat, `console:<id>` (an operator typed into
that console, or closed it) to the console session (ConsoleRings), `metrics:…`
(someone watches a VM's page) to the metrics sampler; only job
ids and cancels are claimed. A ring the agent does not know (a newer control
plane's) is dropped.

A console session relies on its rings only while they are read: `listening`
says the queue is in use and a receive is under way or ended moments ago.
While every job slot is taken the poll loop receives nothing, so a console
session then long-polls its input in the API, as it does while the agent
waits there.

A stopping agent does not sit out its 20 s receive: the receive runs in a
thread of its own and is abandoned when the agent stops. A ring it then
reads is never deleted, so it comes back after the visibility timeout for
the next agent process: a late claim, never a lost one. The API's long poll
(runner.py) is left the same way (`unless_stopped`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from .client import BACKOFF_BASE, ApiError, Backoff, ControlPlane, PendingApproval, Unauthorized
from .sqs import (
    AccessDenied,
    CredentialsRejected,
    Message,
    OwnQueue,
    QueueAccess,
    QueueError,
    QueueGone,
    QueueUnavailable,
)

T = TypeVar("T")
PING = "ping"
CONSOLE_PREFIX = "console:"
METRICS_PREFIX = "metrics:"  # someone watches a VM's page: sample it live for a while (metrics.py)
CLAIMABLE_RE = re.compile(r"(?:cancel:)?job_[0-9a-f]{32}")  # what `POST /agent/v1/poll` accepts as `rung`
STOP_CHECK_SECONDS = 0.2  # how soon a stopping agent leaves a receive
NO_DOORBELL_SECONDS = 600.0
DENIED_SECONDS = 300.0
REFRESHES_BEFORE_FALLBACK = 3
LISTEN_GAP_SECONDS = 5.0  # no receive for longer than this: rings are not being read now
SAFETY_FETCH_SECONDS = 60.0  # a console on the queue fetches at least this often, rung or not (a ring may be lost)

log = logging.getLogger(__name__)


def unless_stopped(call: Callable[[], T], stop: threading.Event, stopped: T, *, name: str) -> T:
    """`call()`'s answer, or `stopped` as soon as the agent stops: the call runs in a daemon thread of its own,
    left to end alone. Used for the waits that may hold a connection for 20 s (a queue receive, the API's long
    poll), so that a stopping agent leaves within STOP_CHECK_SECONDS (issue 19: `systemctl stop` took 15 s)."""
    outcome: list[T | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    while not done.wait(STOP_CHECK_SECONDS):
        if stop.is_set():
            return stopped
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


class QueueWaiter:
    """One long poll of the agent's own queue at a time (the runner's poll loop calls `wait`)."""

    def __init__(self, client: ControlPlane, *, backoff_base: float = BACKOFF_BASE,
                 clock: Callable[[], float] = time.monotonic, on_ping: Callable[[], None] = lambda: None,
                 on_console: Callable[[str], None] = lambda _console_id: None,
                 on_metrics: Callable[[str], None] = lambda _rest: None,
                 stop: threading.Event | None = None) -> None:
        self._client = client
        self._stop = stop
        self._on_ping = on_ping
        self._on_console = on_console
        self._on_metrics = on_metrics
        self._clock = clock
        self._queue: OwnQueue | None = None
        self._api_until = 0.0  # until then (clock), wait in the API
        self._outage = Backoff(base=backoff_base)
        self._refreshes = 0
        self._receiving = False
        self._received_at = float("-inf")  # (clock) when the last receive ended

    @property
    def in_use(self) -> bool:
        return self._queue is not None and self._clock() >= self._api_until

    @property
    def listening(self) -> bool:
        """Whether a ring rung now would be read soon: the queue is in use, and a receive is under way or
        ended less than LISTEN_GAP_SECONDS ago. Read from other threads (console sessions)."""
        return self.in_use and (self._receiving or self._clock() - self._received_at < LISTEN_GAP_SECONDS)

    def wait(self) -> list[str] | None:
        """The jobs and cancels rung during one long poll of the queue ([] if none), already removed from it
        (pings and console rings handed on meanwhile); None when the agent should wait in the API this time.
        Unauthorized and PendingApproval propagate."""
        if self._clock() < self._api_until:
            return None
        try:
            queue = self._queue_in_hand()
            messages = self._receive(queue)
        except (Unauthorized, PendingApproval):
            raise
        except ApiError as exc:
            self._api_for(NO_DOORBELL_SECONDS if exc.status == 404 else self._outage.next_delay(), exc)
            return None
        except (CredentialsRejected, QueueGone) as exc:
            return self._renew(exc)
        except QueueUnavailable as exc:
            self._api_for(self._outage.next_delay(), exc)
            return None
        except (AccessDenied, QueueError, ValueError) as exc:
            self._api_for(DENIED_SECONDS, exc)
            return None
        self._outage.reset()
        self._refreshes = 0
        if messages:
            self._delete(queue, messages)
        return self._route([m.body for m in messages])

    def _receive(self, queue: OwnQueue) -> list[Message]:
        """One long poll of the queue; nothing if the agent stopped meanwhile (the receive is left to end alone)."""
        self._receiving = True
        try:
            if self._stop is None:
                return queue.receive()
            return unless_stopped(queue.receive, self._stop, [], name="queue-receive")
        finally:
            self._receiving = False
            self._received_at = self._clock()

    def _route(self, bodies: list[str]) -> list[str]:
        claims: list[str] = []
        for body in bodies:
            if CLAIMABLE_RE.fullmatch(body):
                claims.append(body)
            elif body == PING:
                self._on_ping()
            elif body.startswith(CONSOLE_PREFIX):
                self._on_console(body[len(CONSOLE_PREFIX):])
            elif body.startswith(METRICS_PREFIX):
                self._on_metrics(body[len(METRICS_PREFIX):])
            else:
                log.warning("a ring this agent does not know was dropped: %.80r", body)
        return claims

    def _delete(self, queue: OwnQueue, messages: list[Message]) -> None:
        """What was read is claimed even when its delete is refused (credentials expired after the receive):
        an undeleted ring comes back after its visibility timeout, a harmless repeat, while a ring dropped
        would leave its job waiting for the next heartbeat. The next wait asks for the queue afresh."""
        try:
            queue.delete([m.receipt_handle for m in messages])
        except QueueError as exc:
            self._queue = None
            log.warning("rings read but not deleted (they come back, harmlessly): %s", exc)

    def _queue_in_hand(self) -> OwnQueue:
        if self._queue is None or self._queue.needs_refresh():
            access = QueueAccess.from_answer(self._client.doorbell())
            self._queue = OwnQueue(self._client, access, self._client.server_now)
            log.info("waiting on this host's own queue queue=%s endpoint=%s", access.queue_url.rsplit("/", 1)[-1],
                     access.endpoint)
        return self._queue

    def _renew(self, exc: QueueError) -> list[str] | None:
        self._queue = None
        self._refreshes += 1
        if self._refreshes >= REFRESHES_BEFORE_FALLBACK:
            self._refreshes = 0
            self._api_for(self._outage.next_delay(), exc)
            return None
        log.info("asking for the queue again: %s", exc)
        return []

    def _api_for(self, seconds: float, why: Exception) -> None:
        self._queue = None
        self._api_until = self._clock() + seconds
        log.warning("waiting in the API for %.0f s instead of on this host's queue: %s", seconds, why)


class ConsoleRings:
    """`console:<id>` rings, handed to the console session that waits for them (jobs/console.py).

    A session registers an event for its console; a ring sets it. A ring for a console not open here (it
    ended, or the ring is late) is dropped: the session fetches what it needs when it attaches."""

    def __init__(self, listening: Callable[[], bool], safety_fetch_seconds: float = SAFETY_FETCH_SECONDS) -> None:
        self._listening = listening
        self.safety_fetch_seconds = safety_fetch_seconds
        self._bells: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def listening(self) -> bool:
        """Whether this agent reads its rings now (QueueWaiter.listening)."""
        return self._listening()

    @contextmanager
    def bell(self, console_id: str, event: threading.Event) -> Iterator[threading.Event]:
        """While in the block, rings for `console_id` set `event`."""
        with self._lock:
            self._bells[console_id] = event
        try:
            yield event
        finally:
            with self._lock:
                if self._bells.get(console_id) is event:
                    del self._bells[console_id]

    def ring(self, console_id: str) -> None:
        with self._lock:
            event = self._bells.get(console_id)
        if event is None:
            log.debug("a console ring for no open session here was dropped console_id=%.40s", console_id)
            return
        event.set()
