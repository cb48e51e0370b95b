"""The control-plane client over real HTTP: its JWTs, its server-clock estimate, retries and error types."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.claim import Claim
from fleetvisor_agent.client import (
    ApiError,
    Backoff,
    ControlPlane,
    PendingApproval,
    ServerClock,
    StaleClaim,
    Unauthorized,
    Unreachable,
    UploadRefused,
    approval_backoff,
    mint_agent_jwt,
    unless_refused,
)
from fleetvisor_agent.state import b64url_encode

from .fake_control_plane import AGENT_ID, FakeControlPlane, running

TWENTY_MINUTES = 1200.0


@pytest.fixture
def agent_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def fake(vector_key: Ed25519PrivateKey, agent_key: Ed25519PrivateKey) -> Iterator[FakeControlPlane]:
    server = FakeControlPlane(signing_key=vector_key)
    server.agent_public_key = b64url_encode(agent_key.public_key().public_bytes_raw())
    with running(server) as started:
        yield started


@pytest.fixture
def client(fake: FakeControlPlane, agent_key: Ed25519PrivateKey) -> Iterator[ControlPlane]:
    plane = ControlPlane(fake.url, agent_key, AGENT_ID, backoff_base=0.01)
    yield plane
    plane.close()


def token_claims(token: str, key: Ed25519PrivateKey) -> dict[str, object]:
    return jwt.decode(token, key.public_key(), algorithms=["EdDSA"], audience="fleetvisor-agent-api",
                      options={"verify_exp": False, "verify_iat": False})


def test_minted_token_verifies_with_the_agent_public_key(agent_key: Ed25519PrivateKey) -> None:
    token = mint_agent_jwt(agent_key, AGENT_ID, now=1795000000.7)

    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "fv-agent+jwt"}
    claims = token_claims(token, agent_key)
    assert set(claims) == {"sub", "aud", "iat", "exp", "jti"}
    assert (claims["sub"], claims["aud"], claims["iat"], claims["exp"]) == (
        AGENT_ID, "fleetvisor-agent-api", 1795000000, 1795000300)
    assert claims["jti"] != token_claims(mint_agent_jwt(agent_key, AGENT_ID, now=1795000000), agent_key)["jti"]


def test_minted_token_fails_with_another_key(agent_key: Ed25519PrivateKey) -> None:
    token = mint_agent_jwt(agent_key, AGENT_ID, now=time.time())

    with pytest.raises(jwt.InvalidSignatureError):
        token_claims(token, Ed25519PrivateKey.generate())


def test_clock_offset_comes_from_server_time(fake: FakeControlPlane, client: ControlPlane,
                                             agent_key: Ed25519PrivateKey) -> None:
    fake.check_tokens = False
    fake.clock_offset = TWENTY_MINUTES

    client.heartbeat({}, [], [])
    client.heartbeat({}, [], [])

    first, second = (call.headers["Authorization"].removeprefix("Bearer ")
                     for call in fake.calls_to("/heartbeat"))
    assert abs(token_claims(first, agent_key)["iat"] - time.time()) < 3  # type: ignore[operator]
    assert abs(token_claims(second, agent_key)["iat"] - fake.now()) < 3  # type: ignore[operator]
    assert abs(client.server_now() - fake.now()) < 2


def test_clock_offset_comes_from_the_date_header_without_server_time(fake: FakeControlPlane,
                                                                     client: ControlPlane) -> None:
    fake.check_tokens = False
    fake.clock_offset = -TWENTY_MINUTES
    fake.omit_server_time = True

    client.lease("job_1", "ct", running=True)

    assert abs(client.clock.offset + TWENTY_MINUTES) < 2


def test_a_401_from_a_skewed_clock_is_retried_once_with_the_corrected_time(fake: FakeControlPlane,
                                                                           client: ControlPlane) -> None:
    """The first call of a host whose clock is 20 min off fails; the answer's Date fixes the estimate."""
    fake.clock_offset = TWENTY_MINUTES

    answer = client.heartbeat({}, [], ["job_1"])

    assert answer["cancel"] == []
    assert len(fake.calls_to("/heartbeat")) == 2


def test_revoked_agent_is_unauthorized_with_the_reason(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.revoked = True

    with pytest.raises(Unauthorized) as caught:
        client.poll(1)

    assert (caught.value.status, caught.value.code) == (401, "agent_revoked")
    assert len(fake.calls_to("/poll")) == 1


def test_stale_claim_is_its_own_error(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.stale = True

    with pytest.raises(StaleClaim) as caught:
        client.complete("job_1", "ct", exit_code=0, summary="ok", outputs=["result"], vm=None)

    assert (caught.value.status, caught.value.code) == (409, "stale_claim")


def test_other_refusals_are_api_errors_with_code_and_message(fake: FakeControlPlane,
                                                             agent_key: Ed25519PrivateKey) -> None:
    plane = ControlPlane(fake.url, agent_key)

    with pytest.raises(ApiError) as caught:
        plane.register("fvet_wrong", name="hv1", hostname="hv1", environment=None, public_key="k",
                       capabilities={})

    assert (caught.value.status, caught.value.code) == (403, "enrollment_refused")
    assert caught.value.message == "The enrolment token is unknown."


def test_transient_failures_are_retried(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.fail_next = [503, 429, 502]

    client.lease("job_1", "ct", running=True)

    assert len(fake.calls_to("/lease")) == 4


def test_a_poll_given_up_on_is_followed_by_one_naming_a_new_poller(fake: FakeControlPlane,
                                                                    agent_key: Ed25519PrivateKey) -> None:
    """The failed poll may still wait at the API; the retry must be told apart from it (agents/instances.py),
    while the process's other calls keep naming the poller that is current."""
    plane = ControlPlane(fake.url, agent_key, AGENT_ID, backoff_base=0.01, process="proc")
    fake.fail_next = [503, 502]
    plane.poll(wait=0)
    plane.lease("job_1", "ct", running=True)
    plane.close()

    named = [token_claims(call.headers["Authorization"].removeprefix("Bearer "), agent_key).get("inst")
             for call in fake.calls]
    assert named == ["proc.0", "proc.1", "proc.2", "proc.2"]


def test_one_shot_commands_name_no_poller(fake: FakeControlPlane, client: ControlPlane,
                                          agent_key: Ed25519PrivateKey) -> None:
    client.lease("job_1", "ct", running=True)
    [call] = fake.calls
    assert "inst" not in token_claims(call.headers["Authorization"].removeprefix("Bearer "), agent_key)


def test_retries_stop_at_the_budget(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.fail_next = [503] * 1000

    with pytest.raises(Unreachable) as caught:
        client.heartbeat({}, [], [], budget=0.3)

    assert caught.value.code == "unreachable" and "HTTP 503" in caught.value.message


def test_an_unreachable_control_plane_is_unreachable(agent_key: Ed25519PrivateKey) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plane = ControlPlane(f"http://127.0.0.1:{port}", agent_key, AGENT_ID, backoff_base=0.01)

    with pytest.raises(Unreachable, match="ConnectionError"):
        plane.heartbeat({}, [], [], budget=0.2)


def test_poll_asks_for_the_wait_and_returns_claimed_jobs(fake: FakeControlPlane, client: ControlPlane) -> None:
    claimed = fake.queue_job("vm.start", "6695eb01-f6a4-8304-79aa-97f2502e193f", job_id="job_1")

    assert client.poll(7, max_jobs=3) == [Claim.from_answer(claimed)]
    [call] = fake.calls_to("/poll")
    assert call.query == {"wait": ["7"]} and call.json() == {"max_jobs": 3}


def test_upload_puts_the_bytes_without_credentials(fake: FakeControlPlane, client: ControlPlane) -> None:
    client.upload(f"{fake.url}/upload/job_1/1?X-Amz-Signature=secret", b'{"ok":true}')

    [call] = fake.calls_to("/upload/job_1/1")
    assert (call.method, call.body) == ("PUT", b'{"ok":true}')
    assert "Authorization" not in call.headers and "Content-Type" not in call.headers


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    highest = Backoff(base=1.0, cap=60.0, rng=lambda: 0.999999)
    lowest = Backoff(base=1.0, cap=60.0, rng=lambda: 0.0)

    assert [round(highest.next_delay()) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert lowest.next_delay() == 0.0
    highest.reset()
    assert round(highest.next_delay()) == 1


def test_approval_backoff_starts_at_10_s_caps_at_5_min_and_never_drops_below_four_fifths() -> None:
    highest = approval_backoff()
    highest._rng = lambda: 0.999999  # type: ignore[attr-defined]
    lowest = approval_backoff()
    lowest._rng = lambda: 0.0  # type: ignore[attr-defined]

    assert [round(highest.next_delay()) for _ in range(7)] == [10, 20, 40, 80, 160, 300, 300]
    assert [lowest.next_delay() for _ in range(2)] == [8.0, 16.0]


def test_a_registration_waiting_for_approval_is_reported_and_the_client_stays_anonymous(
        fake: FakeControlPlane, agent_key: Ed25519PrivateKey) -> None:
    fake.pending_registrations = 1
    plane = ControlPlane(fake.url, agent_key, backoff_base=0.01)

    answer = plane.register("fvet_good", name="hv1", hostname="hv1", environment=None,
                            public_key=fake.agent_public_key or "", capabilities={})

    assert (answer["status"], answer["agent_id"]) == ("pending_approval", AGENT_ID)
    assert plane.agent_id is None
    assert plane.register("fvet_good", name="hv1", hostname="hv1", environment=None,
                          public_key=fake.agent_public_key or "", capabilities={})["status"] == "approved"
    assert plane.agent_id == AGENT_ID


def test_a_host_pending_approval_is_its_own_error(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.pending_approval = True

    with pytest.raises(PendingApproval) as caught:
        client.poll(1)

    assert (caught.value.status, caught.value.code) == (403, "host_pending_approval")


def test_an_upload_answering_403_is_refused_without_retries(fake: FakeControlPlane, client: ControlPlane) -> None:
    fake.upload_refusals = 1

    with pytest.raises(UploadRefused):
        client.upload(f"{fake.url}/upload/job_1/1?X-Amz-Signature=secret", b"{}")

    assert len(fake.calls_to("/upload/job_1/1")) == 1


def test_fresh_uploads_and_a_cancelled_completion(fake: FakeControlPlane, client: ControlPlane) -> None:
    uploads = client.fresh_uploads("job_1", "ct-job_1-2")
    answer = client.complete("job_1", "ct-job_1-2", exit_code=1, summary="cancelled by the operator", outputs=[],
                             vm=None, cancelled=True)

    assert uploads["result"]["url"] == f"{fake.url}/upload/job_1/2?fresh=1"
    assert answer == {"status": "cancelled"}
    assert fake.calls_to("/job_1/complete")[0].json()["cancelled"] is True


def test_server_clock_applies_the_observed_offset() -> None:
    clock = ServerClock(local=lambda: 1000.0)

    clock.observe(2199)

    assert clock.now() == 2199.5  # whole-second server time, centred


def test_unless_refused_gives_the_answer_or_logs_a_refusal_as_none(fake: FakeControlPlane, client: ControlPlane,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("fleetvisor_agent.test")
    assert unless_refused(lambda: client.lease("job_a", "ct", running=True), log, "not renewed", "job_a") is not None

    fake.fail_next = [400]
    with caplog.at_level(logging.WARNING, logger="fleetvisor_agent.test"):
        answer = unless_refused(lambda: client.lease("job_a", "ct", running=True), log, "not renewed", "job_a")

    assert answer is None
    assert caplog.messages == ["not renewed job_id=job_a error=400 unavailable: try later"]


@pytest.mark.parametrize(("switch", "error"), [("stale", StaleClaim), ("revoked", Unauthorized)])
def test_unless_refused_lets_a_lost_claim_or_identity_through(fake: FakeControlPlane, client: ControlPlane,
                                                              switch: str, error: type[Exception]) -> None:
    setattr(fake, switch, True)

    with pytest.raises(error):
        unless_refused(lambda: client.lease("job_a", "ct", running=True), logging.getLogger(__name__), "x", "job_a")
