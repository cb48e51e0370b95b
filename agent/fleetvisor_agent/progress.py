"""How far a long job has got, as its handler says it, for the lease keeper to tell the control plane.

A handler calls `job.progress.report(step, percent, detail)` as often as it
likes; only the latest report is kept. The lease keeper (lease.py) sends it
as the optional `progress` field of its next lease call, and calls sooner
than its regular renewal when there is news, but never more often than
every MIN_PROGRESS_SECONDS: the control plane stores each one and bumps the
owner's change feed. A report the lease call failed to carry is sent with
the next one.
"""

from __future__ import annotations

import threading
from typing import Any

DETAIL_MAX = 200
STEPS = frozenset({"downloading", "verifying", "creating_disk", "defining", "booting", "first_boot", "done"})


class Progress:
    """The latest progress report of one job; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, Any] | None = None
        self._version = 0
        self._sent = 0
        self.news = threading.Event()  # set when a report has not been sent yet

    def report(self, step: str, percent: int | None = None, detail: str | None = None) -> None:
        if step not in STEPS:
            raise ValueError(f"unknown progress step {step!r}")
        body: dict[str, Any] = {"step": step}
        if percent is not None:
            body["percent"] = max(0, min(100, int(percent)))
        if detail:
            body["detail"] = detail[:DETAIL_MAX]
        with self._lock:
            if body == self._latest:
                return
            self._latest = body
            self._version += 1
        self.news.set()

    def pending(self) -> tuple[int, dict[str, Any]] | None:
        """(version, report) not sent yet, or None."""
        with self._lock:
            if self._latest is None or self._version == self._sent:
                return None
            return self._version, dict(self._latest)

    def sent(self, version: int) -> None:
        """The report of `version` reached the control plane."""
        with self._lock:
            self._sent = max(self._sent, version)
            if self._sent == self._version:
                self.news.clear()

    @property
    def latest(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._latest is None else dict(self._latest)
