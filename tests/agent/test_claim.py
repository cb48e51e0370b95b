"""A poll answer's claimed jobs read once: what is kept, what is dropped, where reports and results go."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fleetvisor_agent.claim import Claim, UploadTarget, claims_in
from fleetvisor_agent.state import b64url_encode

URL = "https://bucket.s3.example/jobs/job_a/1/result.json?X-Amz-Signature=secret"
RESULT = {"url": URL, "key": "jobs/job_a/1/result.json", "max_bytes": 1048576, "expires_at": 1795000900}


def envelope_naming(job_id: object) -> dict[str, Any]:
    """An envelope that fails verification but whose payload names a job id."""
    return {"v": 1, "kid": "k", "payload": b64url_encode(f'{{"job_id":"{job_id}"}}'.encode()), "sig": "x"}


def claimed(**fields: Any) -> dict[str, Any]:
    return {"job_id": "job_a", "envelope": envelope_naming("job_a"), "claim_token": "ct-1",
            "lease_expires_at": 1795000120, "uploads": {"result": RESULT}, **fields}


def test_a_well_formed_claim_keeps_its_token_envelope_and_result_target() -> None:
    claim = Claim.from_answer(claimed())

    assert claim == Claim(claim_token="ct-1", envelope=envelope_naming("job_a"), job_id="job_a",
                          result_target=UploadTarget(url=URL, max_bytes=1048576, expires_at=1795000900))


def test_neither_the_claim_token_nor_the_upload_url_shows_in_its_repr() -> None:
    claim = Claim.from_answer(claimed())

    assert "ct-1" not in repr(claim) and "secret" not in repr(claim) and "job_a" in repr(claim)


def test_a_claim_without_a_claim_token_is_dropped_and_logged_with_its_job_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="fleetvisor_agent.claim"):
        assert Claim.from_answer(claimed(claim_token=None)) is None
        assert Claim.from_answer(claimed(claim_token=7)) is None

    assert caplog.messages == ["claimed job without a claim token ignored job_id=job_a"] * 2


@pytest.mark.parametrize("entry", [None, "job_a", 3, ["job_a"]])
def test_an_entry_that_is_not_an_object_is_no_claim(entry: object) -> None:
    assert Claim.from_answer(entry) is None


def test_claims_in_keeps_the_claims_in_order_and_leaves_out_the_rest() -> None:
    jobs = [claimed(job_id="job_a"), "junk", claimed(job_id="job_b", claim_token=None), claimed(job_id="job_c")]

    assert [claim.job_id for claim in claims_in(jobs)] == ["job_a", "job_c"]


@pytest.mark.parametrize("jobs", [None, {}, "jobs", 1])
def test_a_jobs_field_that_is_not_a_list_claims_nothing(jobs: object) -> None:
    assert claims_in(jobs) == []


@pytest.mark.parametrize("job_id", [None, "", 42, "j" * 201])
def test_a_claim_without_a_usable_job_id_is_addressed_by_its_envelope(job_id: object) -> None:
    claim = Claim.from_answer(claimed(job_id=job_id, envelope=envelope_naming("job_from_envelope")))

    assert claim is not None and claim.job_id == "job_from_envelope"


@pytest.mark.parametrize("envelope", [None, "nope", {"payload": "!!!"}, {"payload": b64url_encode(b"[1]")}])
def test_a_claim_naming_no_job_anywhere_is_kept_with_no_address(envelope: object) -> None:
    """The runner refuses its envelope and has nowhere to report it: the claim lapses (as before)."""
    claim = Claim.from_answer(claimed(job_id=None, envelope=envelope))

    assert claim is not None and claim.job_id is None and claim.envelope == envelope


@pytest.mark.parametrize("uploads", [None, [], {}, {"result": None}, {"result": {"key": "k"}},
                                     {"result": {"url": 5}}, {"other": RESULT}])
def test_uploads_without_a_result_url_leave_no_target(uploads: object) -> None:
    claim = Claim.from_answer(claimed(uploads=uploads))

    assert claim is not None and claim.result_target is None


@pytest.mark.parametrize(("max_bytes", "expires_at", "target"), [
    ("1048576", "1795000900", UploadTarget(URL)),
    (None, True, UploadTarget(URL)),
    (10, 1795000900.5, UploadTarget(URL, max_bytes=10, expires_at=1795000900.5)),
])
def test_a_result_target_keeps_only_the_limits_it_can_use(max_bytes: object, expires_at: object,
                                                          target: UploadTarget) -> None:
    assert UploadTarget.of_result({"result": {"url": URL, "max_bytes": max_bytes, "expires_at": expires_at}}) == target


def test_a_target_without_a_size_limit_takes_any_document() -> None:
    assert UploadTarget(URL).takes(10**9)
    assert UploadTarget(URL, max_bytes=10).takes(10) and not UploadTarget(URL, max_bytes=10).takes(11)
