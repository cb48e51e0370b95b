"""A job in hand and the thread that keeps its lease while it runs.

The lease is the control plane's proof that this agent still works on the job;
if a renewal says the job was cancelled or answers 409, another attempt may
already own it, so the job is abandoned: its result is neither uploaded nor
reported.
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

    def abandon(self, why: str) -> None:
        if not self.abandoned.is_set():
            log.warning("job abandoned job_id=%s attempt=%d reason=%s", self.job.job_id, self.job.attempt,
                        why)
            self.abandoned.set()


class LeaseKeeper:
    """Renews a job's lease every 40 s until finished; a cancel or a lost claim abandons the job."""

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
                self._active.abandon("cancelled by the control plane")
                return
