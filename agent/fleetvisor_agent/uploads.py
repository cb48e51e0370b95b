"""A job's result document, put where its claim said: the one presigned PUT of `outputs: ["result"]`.

A URL close to its expiry (server time) is renewed before the PUT; a PUT that
S3 refuses (403: expired, or no longer valid) is tried again with fresh URLs
(`POST jobs/{id}/uploads`) after a backoff, a few times. A result that cannot
be uploaded costs the document, never the completion: the runner reports the
job either way, with the outputs it got. A lost claim (StaleClaim) propagates.
"""

from __future__ import annotations

import logging
from typing import Any

from .claim import UploadTarget
from .client import BACKOFF_BASE, ApiError, Backoff, ControlPlane, UploadRefused, unless_refused
from .lease import ActiveJob
from .verify import canonical_bytes

UPLOAD_ATTEMPTS = 4  # PUTs of one result; each after the first goes to fresh URLs
UPLOAD_EXPIRY_MARGIN = 5.0  # seconds: a URL this close to its expires_at (server time) is renewed before use

log = logging.getLogger(__name__)


class ResultUploader:
    def __init__(self, client: ControlPlane, *, backoff_base: float = BACKOFF_BASE) -> None:
        """`backoff_base` (the wait before fresh URLs after a refused PUT) is there for tests."""
        self.client = client
        self.backoff_base = backoff_base

    def upload(self, active: ActiveJob, document: dict[str, Any]) -> list[str]:
        """Upload the result document to the job's target; the outputs to report: ["result"], or [] if not."""
        job_id = active.job.job_id
        target = active.result_target
        data = canonical_bytes(document)
        if target is None:
            log.warning("no upload URL for the result job_id=%s", job_id)
            return []
        if not target.takes(len(data)):
            log.warning("result too large to upload job_id=%s bytes=%d", job_id, len(data))
            return []
        return ["result"] if self._put(active, target, data) else []

    def _put(self, active: ActiveJob, target: UploadTarget, data: bytes) -> bool:
        """PUT the result; when S3 refuses the URL (403) or it has expired, ask for fresh URLs and try again."""
        job_id = active.job.job_id
        backoff = Backoff(base=self.backoff_base)
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            if attempt > 1 or self._expired(target):
                fresh = self._fresh_target(active)
                if fresh is None:
                    return False
                target = fresh
            try:
                self.client.upload(target.url, data)
                return True
            except UploadRefused as exc:
                delay = backoff.next_delay()
                log.warning("result upload refused job_id=%s attempt=%d error=%s; fresh URLs in %.1f s",
                            job_id, attempt, exc, delay)
                if attempt == UPLOAD_ATTEMPTS or active.abandoned.wait(delay):
                    break
            except ApiError as exc:  # connection errors and 5xx were retried inside upload()
                log.warning("result upload failed job_id=%s error=%s", job_id, exc)
                return False
        log.warning("result not uploaded job_id=%s: giving up after %d attempts", job_id, attempt)
        return False

    def _expired(self, target: UploadTarget) -> bool:
        return target.expires_at is not None and self.client.server_now() >= target.expires_at - UPLOAD_EXPIRY_MARGIN

    def _fresh_target(self, active: ActiveJob) -> UploadTarget | None:
        job_id = active.job.job_id
        uploads = unless_refused(lambda: self.client.fresh_uploads(job_id, active.claim_token), log,
                                 "fresh upload URLs not given", job_id)
        if uploads is None:
            return None
        target = UploadTarget.of_result(uploads)
        if target is None:
            log.warning("fresh upload URLs without one for the result job_id=%s", job_id)
        return target
