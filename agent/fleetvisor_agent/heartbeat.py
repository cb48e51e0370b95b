"""Heartbeats: liveness, capabilities, the VM inventory and the jobs in hand, every interval ± 10 %.

A job that changed a VM asks for one `soon()`, so the inventory catches up
within seconds (an ACPI shutdown, for one, finishes after its job does). While
libvirt is unreachable the last known report is sent, flagged as such: an
empty inventory would tell the control plane that every VM is gone.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from .client import ApiError, ControlPlane, Unauthorized
from .hypervisor.errors import HypervisorError
from .hypervisor.host import Host

JITTER = 0.1
SOON_SECONDS = 2.0  # lets an ACPI shutdown progress and folds a burst of jobs into one heartbeat

log = logging.getLogger(__name__)

Report = tuple[dict[str, Any], list[dict[str, Any]]]


class Heartbeat:
    def __init__(self, client: ControlPlane, host: Host, *, interval: float, stop: threading.Event,
                 jobs_in_hand: Callable[[], list[str]], on_answer: Callable[[dict[str, Any]], None],
                 on_unauthorized: Callable[[Unauthorized], None]) -> None:
        self.interval = interval
        self.soon_seconds = SOON_SECONDS
        self._client = client
        self._host = host
        self._stop = stop
        self._jobs_in_hand = jobs_in_hand
        self._on_answer = on_answer
        self._on_unauthorized = on_unauthorized
        self._soon = threading.Event()
        self._last_report: Report = ({}, [])
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def soon(self) -> None:
        """Send the next heartbeat in a moment rather than at the end of the interval."""
        self._soon.set()

    def wake(self) -> None:
        """Let the thread see that the agent is stopping."""
        self._soon.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def beat(self) -> None:
        capabilities, vms = self._report()
        try:
            answer = self._client.heartbeat(capabilities, vms, self._jobs_in_hand(), budget=self.interval)
        except Unauthorized as exc:
            self._on_unauthorized(exc)
            return
        except ApiError as exc:
            log.warning("heartbeat failed error=%s", exc)
            return
        log.debug("heartbeat sent vms=%d", len(vms))
        self._on_answer(answer)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._soon.clear()  # before the beat: a request made during it is kept for the next
            self.beat()
            interval = self.interval * random.uniform(1 - JITTER, 1 + JITTER)
            if self._soon.wait(interval) and not self._stop.is_set():
                self._stop.wait(self.soon_seconds)

    def _report(self) -> Report:
        try:
            report = ({**self._host.capabilities(), "hypervisor_available": True}, self._host.inventory())
        except HypervisorError as exc:
            log.warning("host report unavailable error=%s", exc.message)
            capabilities, vms = self._last_report
            return {**capabilities, "hypervisor_available": False, "hypervisor_error": exc.code}, vms
        self._last_report = report
        return report
