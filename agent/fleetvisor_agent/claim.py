"""A claimed job as a poll answer gives it, read once: the `Claimed` shape of docs/protocol.md.

The client turns each entry of a poll answer into a `Claim` here, and the rest
of the agent speaks to that. Nothing in a claim is trusted until its envelope
is verified (verify.py); what is read here only says where reports and the
result go. A claim without a claim token is dropped (and logged): no report
about it can be made, so its lease lapses and the control plane retries it. A
claim whose other fields are wrong is kept, so the runner can refuse it and
say so: its envelope fails verification, a missing result URL costs the
result document only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .verify import unverified_job_id

MAX_JOB_ID_CHARS = 200

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadTarget:
    """Where a result document goes: a presigned PUT URL (never logged: it carries credentials), the
    largest document it takes and when it expires (server time); None where the answer did not say."""

    url: str = field(repr=False)
    max_bytes: int | None = None
    expires_at: float | None = None

    @classmethod
    def of_result(cls, uploads: object) -> UploadTarget | None:
        """The `result` entry of a claim's (or a renewal's) uploads, if it has a URL."""
        return cls.of(uploads.get("result") if isinstance(uploads, dict) else None)

    @classmethod
    def of(cls, target: object) -> UploadTarget | None:
        """An upload entry (`{"url", "max_bytes", "expires_at"}`) of any answer, if it has a URL."""
        if not isinstance(target, dict) or not isinstance(target.get("url"), str):
            return None
        max_bytes, expires_at = target.get("max_bytes"), target.get("expires_at")
        return cls(url=target["url"], max_bytes=max_bytes if isinstance(max_bytes, int) else None,
                   expires_at=expires_at if _is_number(expires_at) else None)

    def takes(self, size: int) -> bool:
        return self.max_bytes is None or size <= self.max_bytes


@dataclass(frozen=True)
class Claim:
    """One claimed job: its claim token, its envelope (unverified), where its result goes, and the id to
    address a report to if it is not run (the claim's own, else the envelope's; None if neither says).
    Once the envelope is verified, the signed job id is the one to trust."""

    claim_token: str = field(repr=False)
    envelope: object = field(repr=False)
    job_id: str | None = None
    result_target: UploadTarget | None = None

    @classmethod
    def from_answer(cls, entry: object) -> Claim | None:
        """The claim in one entry of a poll answer's `jobs`; None when the entry is not an object, or has no
        claim token (logged: no report about it can be made)."""
        if not isinstance(entry, dict):
            return None
        envelope = entry.get("envelope")
        job_id = entry.get("job_id")
        if not (isinstance(job_id, str) and 0 < len(job_id) <= MAX_JOB_ID_CHARS):
            job_id = unverified_job_id(envelope)
        claim_token = entry.get("claim_token")
        if not isinstance(claim_token, str):
            log.error("claimed job without a claim token ignored job_id=%s", job_id)
            return None
        return cls(claim_token=claim_token, envelope=envelope, job_id=job_id,
                   result_target=UploadTarget.of_result(entry.get("uploads")))


def claims_in(jobs: object) -> list[Claim]:
    """The claims in a poll answer's `jobs` list, in order; entries that are not claims are left out."""
    if not isinstance(jobs, list):
        return []
    return [claim for claim in map(Claim.from_answer, jobs) if claim is not None]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
