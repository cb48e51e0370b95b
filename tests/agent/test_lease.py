"""The lease keeper: renews while a job runs, cancels it when the operator does, abandons it when the claim is lost."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.client import ControlPlane
from fleetvisor_agent.lease import ActiveJob, LeaseKeeper, renew_interval
from fleetvisor_agent.verify import VerifiedJob

from .fake_control_plane import AGENT_ID, FakeControlPlane, running


@pytest.fixture
def fake(vector_key: Ed25519PrivateKey) -> Iterator[FakeControlPlane]:
    with running(FakeControlPlane(signing_key=vector_key, check_tokens=False)) as started:
        yield started


@pytest.fixture
def client(fake: FakeControlPlane) -> Iterator[ControlPlane]:
    plane = ControlPlane(fake.url, Ed25519PrivateKey.generate(), AGENT_ID, backoff_base=0.01)
    yield plane
    plane.close()


def keep_for(client: ControlPlane, seconds: float, *, until_settled: bool = True) -> ActiveJob:
    job = VerifiedJob(job_id="job_a", agent_id=AGENT_ID, op="vm.start", args={}, issued_at=0, expires_at=1,
                      attempt=1, kid="k")
    active = ActiveJob(job, "ct")
    with LeaseKeeper(client, active, interval=0.03):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until_settled and active.settled.is_set()):
            time.sleep(0.01)
    return active


def test_the_lease_is_renewed_while_the_job_runs(fake: FakeControlPlane, client: ControlPlane) -> None:
    active = keep_for(client, 0.3)

    renewals = fake.calls_to("/job_a/lease")
    assert len(renewals) >= 3 and not active.settled.is_set()
    assert renewals[0].json() == {"claim_token": "ct", "running": False}


def test_renewals_stop_when_the_job_ends(fake: FakeControlPlane, client: ControlPlane) -> None:
    keep_for(client, 0.1)
    count = len(fake.calls_to("/job_a/lease"))

    time.sleep(0.1)

    assert len(fake.calls_to("/job_a/lease")) == count


def test_a_cancel_cancels_the_job_and_tells_its_handler(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.lease_cancel = True

    active = keep_for(client, 5)

    assert active.cancel_requested.is_set() and not active.abandoned.is_set()
    assert active.job.cancelled.is_set()  # what a waiting handler watches
    assert len(fake.calls_to("/job_a/lease")) == 1


def test_a_cancelled_job_keeps_its_lease_until_it_is_reported(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.lease_cancel = True

    active = keep_for(client, 0.3, until_settled=False)

    assert active.cancel_requested.is_set()
    assert len(fake.calls_to("/job_a/lease")) >= 3


def test_a_stale_claim_abandons_the_job(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.stale = True

    active = keep_for(client, 5)

    assert active.abandoned.is_set() and not active.cancel_requested.is_set()
    assert active.job.cancelled.is_set()


def test_a_failed_renewal_is_tried_again(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.fail_next = [500]

    active = keep_for(client, 0.3)

    assert not active.settled.is_set()
    assert len(fake.calls_to("/job_a/lease")) >= 3


def test_a_short_lease_is_renewed_a_third_of_its_length_apart(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.lease_seconds = 3
    job = VerifiedJob(job_id="job_a", agent_id=AGENT_ID, op="vm.start", args={}, issued_at=0, expires_at=1,
                      attempt=1, kid="k")
    active = ActiveJob(job, "ct", lease_expires_at=client.server_now() + 3)
    with LeaseKeeper(client, active, interval=40):
        time.sleep(2.5)
    assert 2 <= len(fake.calls_to("/job_a/lease")) <= 4


def test_renewal_intervals_follow_the_lease_within_bounds() -> None:
    assert renew_interval(1120, 1000) == 40  # the protocol's 120 s lease: every 40 s
    assert renew_interval(1006, 1000) == 2
    assert renew_interval(1000, 1000) == 0.5  # lapsing: as soon as may be, never in a tight loop
    assert renew_interval(None, 1000) == renew_interval("soon", 1000) == renew_interval(True, 1000) == 40
    assert renew_interval(1120, 1000, longest=0.03) == 0.03


def test_progress_rides_on_a_lease_call_soon_after_it_is_reported_but_no_more_often_than_allowed(
        fake: FakeControlPlane, client: ControlPlane) -> None:
    job = VerifiedJob(job_id="job_a", agent_id=AGENT_ID, op="vm.deploy", args={}, issued_at=0, expires_at=1,
                      attempt=1, kid="k")
    active = ActiveJob(job, "ct")
    with LeaseKeeper(client, active, interval=40, progress_spacing=0.4):
        job.progress.report("downloading", 10, "fetching debian-12.qcow2")
        time.sleep(0.2)
        job.progress.report("downloading", 20)  # replaces the one before if that one has not gone yet
        job.progress.report("downloading", 30)
        time.sleep(0.7)
        job.progress.report("verifying")
        time.sleep(0.7)
    sent = [call.json() for call in fake.calls_to("/job_a/lease")]
    stamps = [call.at for call in fake.calls_to("/job_a/lease")]

    assert sent[0] == {"claim_token": "ct", "running": False,
                       "progress": {"step": "downloading", "percent": 10, "detail": "fetching debian-12.qcow2"}}
    assert [body["progress"] for body in sent[1:]] == [{"step": "downloading", "percent": 30},
                                                       {"step": "verifying"}]
    assert all(later - earlier >= 0.39 for earlier, later in itertools.pairwise(stamps))


def test_progress_a_failed_lease_call_did_not_carry_goes_with_the_next(fake: FakeControlPlane,
                                                                        client: ControlPlane) -> None:
    fake.fail_next = [500, 500, 500, 500, 500, 500]
    job = VerifiedJob(job_id="job_a", agent_id=AGENT_ID, op="vm.deploy", args={}, issued_at=0, expires_at=1,
                      attempt=1, kid="k")
    active = ActiveJob(job, "ct")
    with LeaseKeeper(client, active, interval=40, progress_spacing=0.1):
        job.progress.report("creating_disk", 50)
        deadline = time.monotonic() + 5
        while job.progress.pending() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    bodies = [call.json() for call in fake.calls_to("/job_a/lease")]

    assert job.progress.pending() is None and job.progress.latest == {"step": "creating_disk", "percent": 50}
    assert bodies[-1]["progress"] == {"step": "creating_disk", "percent": 50} and len(bodies) > 1


def test_a_job_without_progress_sends_none() -> None:
    job = VerifiedJob(job_id="job_a", agent_id=AGENT_ID, op="vm.start", args={}, issued_at=0, expires_at=1,
                      attempt=1, kid="k")
    assert job.progress.pending() is None
    with pytest.raises(ValueError):
        job.progress.report("sleeping")
