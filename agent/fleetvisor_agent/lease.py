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

Renewals come a third of the lease apart (two may fail before it lapses), at
most every 40 s: the lease is whatever the control plane gave (each answer
says when it expires, in server time), so a control plane with short leases
is kept up with too.

A job that reports progress (progress.py) gets a renewal soon after each
report, at most every MIN_PROGRESS_SECONDS, carrying the latest one as the
lease call's `progress` field.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from .claim import UploadTarget
from .client import ApiError, ControlPlane, StaleClaim, Unauthorized
from .verify import VerifiedJob

LEASE_RENEW_SECONDS = 40.0  # at most this far apart: a third of the protocol's 120 s lease
MIN_RENEW_SECONDS = 0.5
MIN_PROGRESS_SECONDS = 2.0  # the contract's limit on how often a job's progress reaches the control plane

log = logging.getLogger(__name__)


def renew_interval(lease_expires_at: object, server_now: float, longest: float = LEASE_RENEW_SECONDS) -> float:
    """A third of what is left of the lease, at most `longest`; `longest` when the answer did not say."""
    if not isinstance(lease_expires_at, int | float) or isinstance(lease_expires_at, bool):
        return longest
    return min(longest, max(MIN_RENEW_SECONDS, (lease_expires_at - server_now) / 3))


@dataclass
class ActiveJob:
    job: VerifiedJob
    claim_token: str
    lease_expires_at: object = None  # server time, as the latest lease answer said (checked when used)
    result_target: UploadTarget | None = None  # where its result document goes, as its claim said
    abandoned: threading.Event = field(default_factory=threading.Event)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    timed_out: threading.Event = field(default_factory=threading.Event)  # ran past its time limit
    # The handler returned, or its outcome stopped mattering (cancelled or abandoned).
    settled: threading.Event = field(default_factory=threading.Event)

    def cancel(self, why: str) -> None:
        """The operator cancelled the job: stop waiting for the handler and report the job cancelled."""
        if not self.cancel_requested.is_set():
            log.warning("job cancelled job_id=%s attempt=%d reason=%s", self.job.job_id, self.job.attempt, why)
            self.cancel_requested.set()
        self._stop_waiting()

    def time_out(self, seconds: float) -> None:
        """The job ran past its time limit: stop waiting for the handler and report it timed out."""
        log.warning("job timed out job_id=%s attempt=%d op=%s limit=%gs", self.job.job_id, self.job.attempt,
                    self.job.op, seconds)
        self.timed_out.set()
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
    """Renews a job's lease until finished; a cancel cancels the job, a lost claim abandons it."""

    def __init__(self, client: ControlPlane, active: ActiveJob, interval: float = LEASE_RENEW_SECONDS,
                 progress_spacing: float = MIN_PROGRESS_SECONDS) -> None:
        """`interval` is the longest wait between renewals; a short lease, or progress to report, sooner."""
        self._client = client
        self._active = active
        self._longest = interval
        self._spacing = progress_spacing
        self._last_call = float("-inf")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{active.job.job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._active.job.progress.news.set()  # wakes a keeper waiting for news
        self._thread.join()

    def _run(self) -> None:
        job = self._active.job
        while not self._wait():
            pending = job.progress.pending()
            self._last_call = time.monotonic()
            try:
                answer = self._client.lease(job.job_id, self._active.claim_token, running=False,
                                            progress=pending[1] if pending else None)
            except (StaleClaim, Unauthorized) as exc:
                self._active.abandon(f"lease renewal refused ({exc.code})")
                return
            except ApiError as exc:
                log.warning("lease renewal failed job_id=%s error=%s; trying again later", job.job_id, exc)
                continue
            if pending:
                job.progress.sent(pending[0])
            self._active.lease_expires_at = answer.get("lease_expires_at")
            if answer.get("cancel"):
                # Renewals go on: the lease must hold until the cancelled job is reported.
                self._active.cancel("cancelled by the operator (lease answer)")

    def _wait(self) -> bool:
        """Wait until the next renewal is due (the regular one, or one carrying news); True once finished."""
        due = time.monotonic() + self._next_renewal()
        news = self._active.job.progress.news
        while not self._done.is_set():
            now = time.monotonic()
            if now >= due:
                return False
            if news.is_set():
                soonest = self._last_call + self._spacing
                if now >= soonest:
                    return False
                self._done.wait(min(due, soonest) - now)
            else:
                news.wait(due - now)
        return True

    def _next_renewal(self) -> float:
        return renew_interval(self._active.lease_expires_at, self._client.server_now(), self._longest)
