"""A job in hand and the thread that keeps its lease while it runs.

The lease is the control plane's proof that this agent still works on the job.
A renewal may bring two kinds of news. `"cancel": true` (or the job in a
heartbeat answer's `cancel` list) means the operator cancelled it: the job is
*cancelled*, and the runner completes it as such at once, with
`"cancelled": true`; the lease is kept until then. A 409 (or 401) means
another attempt may own the job now: the job is *abandoned*, its result
neither uploaded nor reported. Either way the job's `cancelled` event tells a
handler that waits to stop waiting, and `settled` tells the runner to stop
waiting for the handler.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from .client import ApiError, ControlPlane, StaleClaim, Unauthorized
from .verify import VerifiedJob

LEASE_RENEW_SECONDS = 40.0  # a lease lasts 120 s: two renewals may fail before it lapses

log = logging.getLogger(__name__)


@dataclass
class ActiveJob:
    job: VerifiedJob
    claim_token: str
    abandoned: threading.Event = field(default_factory=threading.Event)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    # The handler returned, or its outcome stopped mattering (cancelled or abandoned).
    settled: threading.Event = field(default_factory=threading.Event)

    def cancel(self, why: str) -> None:
        """The operator cancelled the job: stop waiting for the handler and report the job cancelled."""
        if not self.cancel_requested.is_set():
            log.warning("job cancelled job_id=%s attempt=%d reason=%s", self.job.job_id, self.job.attempt, why)
            self.cancel_requested.set()
        self._stop_waiting()

    def abandon(self, why: str) -> None:
        """Another attempt may own the job: stop waiting for the handler and report nothing."""
        if not self.abandoned.is_set():
            log.warning("job abandoned job_id=%s attempt=%d reason=%s", self.job.job_id, self.job.attempt,
                        why)
            self.abandoned.set()
        self._stop_waiting()

    def _stop_waiting(self) -> None:
        self.job.cancelled.set()
        self.settled.set()


class LeaseKeeper:
    """Renews a job's lease every 40 s until finished; a cancel cancels the job, a lost claim abandons it."""

    def __init__(self, client: ControlPlane, active: ActiveJob,
                 interval: float = LEASE_RENEW_SECONDS) -> None:
        self._client = client
        self._active = active
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{active.job.job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        job = self._active.job
        while not self._done.wait(self._interval):
            try:
                answer = self._client.lease(job.job_id, self._active.claim_token, running=False)
            except (StaleClaim, Unauthorized) as exc:
                self._active.abandon(f"lease renewal refused ({exc.code})")
                return
            except ApiError as exc:
                log.warning("lease renewal failed job_id=%s error=%s; trying again later", job.job_id, exc)
                continue
            if answer.get("cancel"):
                # Renewals go on: the lease must hold until the cancelled job is reported.
                self._active.cancel("cancelled by the operator (lease answer)")
