"""Heartbeats: liveness, capabilities, the VM inventory and the jobs in hand, every interval ± 10 %.

The interval is 7 minutes by default: each beat is an API request and a
DynamoDB write, half of what an idle host costs (the other half is its 20 s
waits on its own queue; bench/cost.py). Nobody needs
fresher news of a host nobody is looking at, and someone who is gets it: an
open hosts page rings the host's doorbell with a ping, and `now()` answers it
with a beat at once. A beat that fails is retried within its own call (the
client's backoff, for up to an interval), so one lost request does not let
the host look stale.

A job that changed a VM asks for one `soon()`, so the inventory catches up
within seconds. A libvirt lifecycle event (a VM started, stopped, paused... by
anyone: a job, virsh, the guest powering itself off) asks for one
`vm_changed()`, sent after a short debounce (~200 ms) that folds the burst of
events one change makes into one heartbeat. Either way the inventory is listed
only when a heartbeat goes out: never in a loop of its own. While libvirt is
unreachable the last known report is sent, flagged as such: an empty inventory
would tell the control plane that every VM is gone. Meanwhile the connection
(not the listing) is retried with backoff, and the first heartbeat after it
is back goes out at once, because a libvirtd restart is also when lifecycle
events stop until the agent connects (and subscribes) again. While the host
waits for its owner's approval (`403 host_pending_approval`), heartbeats back
off like the rest of the agent: 10 s doubling to 5 min.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from .client import APPROVAL_BACKOFF_BASE, ApiError, ControlPlane, PendingApproval, Unauthorized, approval_backoff
from .hypervisor.errors import HypervisorError
from .hypervisor.events import LifecycleEvent
from .hypervisor.host import Host

JITTER = 0.1
SOON_SECONDS = 2.0  # folds a burst of finished jobs into one heartbeat
EVENT_SECONDS = 0.2  # folds the events of one change (e.g. "shutdown", then "stopped") into one heartbeat
MESSAGE_LENGTH = 300  # the control plane's limit for hypervisor_message
RECONNECT_FIRST_SECONDS = 1.0  # after a failed report, first retry of the libvirt connection (then doubling)

log = logging.getLogger(__name__)

Report = tuple[dict[str, Any], list[dict[str, Any]]]


def regular_wait(interval: float) -> float:
    """Seconds to the next regular heartbeat: the interval ± JITTER, so hosts started together drift out of step."""
    return interval * random.uniform(1 - JITTER, 1 + JITTER)


class Heartbeat:
    def __init__(self, client: ControlPlane, host: Host, *, interval: float, stop: threading.Event,
                 jobs_in_hand: Callable[[], list[str]], on_answer: Callable[[dict[str, Any]], None],
                 on_unauthorized: Callable[[Unauthorized], None],
                 approval_backoff_base: float = APPROVAL_BACKOFF_BASE,
                 waiting_on: Callable[[], str] = lambda: "api",
                 extra: Callable[[], dict[str, Any]] = dict,
                 usage: Callable[[], dict[str, Any]] = dict,
                 on_report: Callable[[HypervisorError | None], None] = lambda _error: None) -> None:
        """`on_report`: told after each look at libvirt whether it answered (None) or what went wrong."""
        self.interval = interval
        self.soon_seconds = SOON_SECONDS
        self.event_seconds = EVENT_SECONDS
        self._client = client
        self._host = host
        self._stop = stop
        self._jobs_in_hand = jobs_in_hand
        self._waiting_on = waiting_on
        self._extra = extra  # more fields for the body (the metrics sampler's upload ask, metrics.py)
        self._usage = usage  # the host's CPU use, as the sampler last measured it, with its capabilities
        self._on_answer = on_answer
        self._on_unauthorized = on_unauthorized
        self._on_report = on_report
        self._wakeup = threading.Condition()
        self._due: float | None = None  # monotonic time of an early heartbeat someone asked for
        self._last_report: Report = ({}, [])
        self._libvirt_down = False
        self._approval_backoff = approval_backoff(approval_backoff_base)
        self._approval_wait: float | None = None  # seconds to the next beat while the owner has not approved us
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._host.watch(self.vm_changed)
        self._thread.start()

    def soon(self) -> None:
        """Send the next heartbeat in a moment rather than at the end of the interval."""
        self._request(self.soon_seconds)

    def now(self) -> None:
        """Beat at once: someone is looking at this host (a ping). Pings that arrive together make one beat."""
        self._request(0.0)

    def vm_changed(self, _event: LifecycleEvent | None = None) -> None:
        """A lifecycle event: send a heartbeat after the debounce. Called on libvirt's event thread: no waiting."""
        self._request(self.event_seconds)

    def wake(self) -> None:
        """Let the thread see that the agent is stopping."""
        with self._wakeup:
            self._wakeup.notify_all()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def look(self) -> None:
        """Look at libvirt without sending anything (before enrolment, say): `on_report` hears the outcome."""
        self._report()

    def beat(self) -> None:
        capabilities, vms = self._report()
        try:
            # Where the agent waits ("queue" or "api"), so the operator sees a host that costs Lambda time.
            answer = self._client.heartbeat({**capabilities, **self._usage(), "waiting_on": self._waiting_on()}, vms,
                                            self._jobs_in_hand(), budget=self.interval, extra=self._extra())
        except Unauthorized as exc:
            self._on_unauthorized(exc)
            return
        except PendingApproval:
            self._approval_wait = self._approval_backoff.next_delay()
            log.info("heartbeat refused: this host waits for its owner's approval; next in %.0f s",
                     self._approval_wait)
            return
        except ApiError as exc:
            log.warning("heartbeat failed error=%s", exc)
            return
        self._approval_wait = None
        self._approval_backoff.reset()
        log.debug("heartbeat sent vms=%d", len(vms))
        self._on_answer(answer)

    def _request(self, delay: float) -> None:
        with self._wakeup:
            due = time.monotonic() + delay
            if self._due is None or due < self._due:
                self._due = due
            self._wakeup.notify_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._wakeup:
                self._due = None  # before the beat: a request made during it is kept for the next
            self.beat()
            if self._approval_wait is not None:
                # Events and finished jobs do not hurry a heartbeat the control plane will refuse anyway.
                self._wait_until(time.monotonic() + self._approval_wait, heed_requests=False)
            elif self._libvirt_down:
                self._wait_for_libvirt()
            else:
                self._wait_until(self._next_regular())

    def _next_regular(self) -> float:
        return time.monotonic() + regular_wait(self.interval)

    def _wait_for_libvirt(self) -> None:
        """Wait as usual, but try to reconnect meanwhile (1, 2, 4… s apart) and beat as soon as libvirt is back.

        A reconnect subscribes to lifecycle events again, and whatever changed while libvirtd was away is
        reported at once; only the connection is tried in between, never the listing.
        """
        regular = self._next_regular()
        delay = RECONNECT_FIRST_SECONDS
        while time.monotonic() < regular:
            if self._wait_until(min(regular, time.monotonic() + delay)):
                return
            if self._host.reachable():
                log.info("libvirt is reachable again; reporting the host")
                return
            delay *= 2

    def _wait_until(self, until: float, *, heed_requests: bool = True) -> bool:
        """Sleep until `until`; True if woken early because a heartbeat was asked for or the agent is stopping."""
        with self._wakeup:
            while not self._stop.is_set():
                now = time.monotonic()
                due = self._due if heed_requests else None
                if due is not None and due <= now:
                    return True
                if now >= until:
                    return False
                self._wakeup.wait(min(until, due if due is not None else until) - now)
            return True

    def _report(self) -> Report:
        try:
            report = ({**self._host.capabilities(), "hypervisor_available": True}, self._host.inventory())
        except HypervisorError as exc:
            log.warning("host report unavailable error=%s", exc.message)
            self._libvirt_down = True
            self._on_report(exc)
            capabilities, vms = self._last_report
            # libvirt's words go with the code: the web app shows the operator why (polkit, a stopped libvirtd).
            return {**capabilities, "hypervisor_available": False, "hypervisor_error": exc.code,
                    "hypervisor_message": exc.message[:MESSAGE_LENGTH]}, vms
        self._libvirt_down = False
        self._last_report = report
        self._on_report(None)
        return report
