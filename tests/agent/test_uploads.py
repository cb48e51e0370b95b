"""A job's result document put to its presigned URL: renewed when expired, retried when refused, never fatal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.claim import UploadTarget
from fleetvisor_agent.client import ControlPlane, StaleClaim
from fleetvisor_agent.lease import ActiveJob
from fleetvisor_agent.uploads import UPLOAD_ATTEMPTS, UPLOAD_EXPIRY_MARGIN, ResultUploader
from fleetvisor_agent.verify import VerifiedJob

from .fake_control_plane import AGENT_ID, FakeControlPlane, running

DOCUMENT = {"job_id": "job_a", "attempt": 1, "ok": True, "data": {"name": "wëb1"}}


@pytest.fixture
def fake(vector_key: Ed25519PrivateKey) -> Iterator[FakeControlPlane]:
    with running(FakeControlPlane(signing_key=vector_key, check_tokens=False)) as started:
        yield started


@pytest.fixture
def uploader(fake: FakeControlPlane) -> Iterator[ResultUploader]:
    client = ControlPlane(fake.url, Ed25519PrivateKey.generate(), AGENT_ID, backoff_base=0.01)
    client.clock.observe(fake.now())
    yield ResultUploader(client, backoff_base=0.01)
    client.close()


def holding(fake: FakeControlPlane, *, expires_in: float = 900, max_bytes: int | None = 1048576,
            target: bool = True) -> ActiveJob:
    """Attempt 1 of job_a in hand, its result going to the fake's upload URL (expiring `expires_in` from now)."""
    job = VerifiedJob(job_id="job_a", agent_id=AGENT_ID, op="vm.start", args={}, issued_at=0, expires_at=1,
                      attempt=1, kid="k")
    result_target = UploadTarget(f"{fake.url}/upload/job_a/1", max_bytes=max_bytes, expires_at=fake.now() + expires_in)
    return ActiveJob(job, "ct-job_a-1", result_target=result_target if target else None)


def puts(fake: FakeControlPlane) -> list[dict[str, list[str]]]:
    return [call.query for call in fake.calls_to("/upload/job_a/1")]


def test_the_document_is_put_once_in_canonical_form(fake: FakeControlPlane, uploader: ResultUploader) -> None:
    assert uploader.upload(holding(fake), DOCUMENT) == ["result"]

    assert puts(fake) == [{}] and not fake.calls_to("/job_a/uploads")
    assert fake.uploads["/upload/job_a/1"] == json.dumps(DOCUMENT, sort_keys=True, separators=(",", ":"),
                                                         ensure_ascii=False).encode()


@pytest.mark.parametrize("expires_in", [-1, UPLOAD_EXPIRY_MARGIN - 2])
def test_a_target_expired_or_about_to_is_renewed_before_the_put(fake: FakeControlPlane, uploader: ResultUploader,
                                                                expires_in: float) -> None:
    assert uploader.upload(holding(fake, expires_in=expires_in), DOCUMENT) == ["result"]

    [renewal] = fake.calls_to("/job_a/uploads")
    assert renewal.json() == {"claim_token": "ct-job_a-1"}
    assert puts(fake) == [{"fresh": ["1"]}]


def test_a_put_refused_as_expired_is_tried_again_with_fresh_urls(fake: FakeControlPlane,
                                                                 uploader: ResultUploader) -> None:
    fake.upload_refusals = 1

    assert uploader.upload(holding(fake), DOCUMENT) == ["result"]

    assert puts(fake) == [{}, {"fresh": ["1"]}] and len(fake.calls_to("/job_a/uploads")) == 1


def test_puts_refused_every_time_give_up_after_a_few_tries(fake: FakeControlPlane, uploader: ResultUploader) -> None:
    fake.upload_refusals = 100

    assert uploader.upload(holding(fake), DOCUMENT) == []

    assert len(puts(fake)) == UPLOAD_ATTEMPTS and len(fake.calls_to("/job_a/uploads")) == UPLOAD_ATTEMPTS - 1


def test_an_abandoned_job_stops_trying_after_the_refused_put(fake: FakeControlPlane, uploader: ResultUploader) -> None:
    fake.upload_refusals = 100
    active = holding(fake)
    active.abandon("another attempt holds the job")

    assert uploader.upload(active, DOCUMENT) == []

    assert len(puts(fake)) == 1 and not fake.calls_to("/job_a/uploads")


def test_a_put_failing_otherwise_is_not_retried_with_fresh_urls(fake: FakeControlPlane,
                                                                uploader: ResultUploader) -> None:
    fake.fail_next = [400]

    assert uploader.upload(holding(fake), DOCUMENT) == []

    assert len(puts(fake)) == 1 and not fake.calls_to("/job_a/uploads")


def test_fresh_urls_refused_cost_the_document(fake: FakeControlPlane, uploader: ResultUploader) -> None:
    fake.fail_next = [400]  # the renewal, which comes first for an expired target

    assert uploader.upload(holding(fake, expires_in=-1), DOCUMENT) == []

    assert len(fake.calls_to("/job_a/uploads")) == 1 and puts(fake) == []


def test_a_lost_claim_while_renewing_propagates(fake: FakeControlPlane, uploader: ResultUploader) -> None:
    fake.stale = True

    with pytest.raises(StaleClaim):
        uploader.upload(holding(fake, expires_in=-1), DOCUMENT)

    assert puts(fake) == []


@pytest.mark.parametrize(("max_bytes", "target"), [(1048576, False), (10, True)])
def test_no_target_or_too_large_a_document_uploads_nothing(fake: FakeControlPlane, uploader: ResultUploader,
                                                           max_bytes: int, target: bool) -> None:
    assert uploader.upload(holding(fake, max_bytes=max_bytes, target=target), DOCUMENT) == []

    assert fake.calls == []
