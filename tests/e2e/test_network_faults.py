"""Network faults between the agent and the control plane, made for real by the fault proxies
(tcp_proxy.py) of the fault stack (conftest.py): uploads stalled, reset or answered "Request has
expired" by S3, the API stalled or reset during a long poll, everything delayed, and the agent cut
off from everything for longer than a lease.

Each test asserts that nothing is lost (the job ends final, its result readable through the API, which
checks it is exactly what the agent uploaded) and that nothing runs twice by surprise (the attempts
the agent started, from its log, are the attempts the job record counts).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from infra.local import LocalStack
from tests.conftest import wait_until

from .conftest import FAULT_LEASE_SECONDS, Proxies
from .fault_helpers import Operator, agent_log, attempts_run

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def healed(proxies: Proxies) -> Iterator[None]:
    yield
    proxies.heal()


def _puts_of(proxies: Proxies, job_id: str) -> list[str]:
    return [r for r in proxies.s3.requests if r.startswith("PUT ") and f"/{job_id}/" in r]


def _succeeded_once(op: Operator, stack: LocalStack, job: dict, attempt: int | None = 1) -> list[int]:
    """The job succeeded, its result is the last attempt's, and the agent started each attempt at most
    once, the last one being the one that counts. Returns the attempts the agent started."""
    assert (job["status"], job["exit_code"]) == ("succeeded", 0), job
    if attempt is not None:
        assert job["attempt"] == attempt, job
    result = op.result(job)
    assert (result["job_id"], result["attempt"], result["ok"]) == (job["job_id"], job["attempt"], True)
    started = attempts_run(stack, job["job_id"])
    assert started == sorted(set(started)) and started[-1] == job["attempt"], started
    return started


def test_an_upload_stalled_longer_than_a_lease_completes_once_when_healed(faulty: LocalStack,
                                                                         proxies: Proxies) -> None:
    op = Operator(faulty)
    proxies.s3.stall()
    job_id = op.act("reboot")
    wait_until(lambda: proxies.s3.live() and op.job(job_id)["status"] == "running", what="the upload in flight")
    time.sleep(FAULT_LEASE_SECONDS + 2)  # the lease is renewed through the API meanwhile
    assert (op.job(job_id)["status"], op.job(job_id)["attempt"]) == ("running", 1)
    proxies.s3.passing()
    _succeeded_once(op, faulty, op.wait_final(job_id))
    assert len(_puts_of(proxies, job_id)) == 1  # the held PUT went through; nothing was sent twice


def test_an_upload_reset_is_retried_and_completes_once(faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    resets = proxies.s3.resets
    proxies.s3.reset()
    job_id = op.act("reboot")
    wait_until(lambda: proxies.s3.resets >= resets + 2, what="two uploads reset")
    proxies.s3.passing()
    _succeeded_once(op, faulty, op.wait_final(job_id))
    assert len(_puts_of(proxies, job_id)) == 1


def test_an_upload_answered_request_has_expired_gets_fresh_urls_and_completes(faulty: LocalStack,
                                                                             proxies: Proxies) -> None:
    op = Operator(faulty)
    proxies.s3.expire_puts(1)
    job_id = op.act("reboot")
    _succeeded_once(op, faulty, op.wait_final(job_id))
    [refused] = [request for request in proxies.s3.refused if f"/{job_id}/" in request]
    assert _puts_of(proxies, job_id) == [refused, refused]  # the same key, a fresh URL
    assert re.search(rf"result upload refused job_id={job_id} attempt=1 error=403", agent_log(faulty))


def test_an_agent_cut_off_longer_than_its_lease_loses_the_attempt_and_the_next_one_completes(
        faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    proxies.s3.stall()
    job_id = op.act("reboot")
    wait_until(lambda: proxies.s3.live() and op.job(job_id)["status"] == "running", what="the upload in flight")
    proxies.api.reset()
    proxies.s3.reset()
    wait_until(lambda: op.job(job_id)["status"] == "queued", what="the lease to lapse")
    proxies.heal()
    # Attempt 1 ran and uploaded, but its claim had lapsed: it reported nothing, and a later attempt counts.
    # (Attempt 2 may have been claimed by the long poll the API was still holding for the cut-off agent, and
    # lapsed in its turn: the agent then never saw it.)
    started = _succeeded_once(op, faulty, op.wait_final(job_id), attempt=None)
    assert started[0] == 1 and len(started) >= 2
    # Attempt 1's own report may come after attempt 2's: its calls were still backing off from the cut.
    wait_until(lambda: re.search(rf"job (result not recorded: the claim was lost|abandoned) job_id={job_id} "
                                 "attempt=1", agent_log(faulty)), timeout=30, what="attempt 1 giving up")


def test_the_api_reset_during_a_long_poll_is_waited_out_with_jitter(faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    wait_until(lambda: proxies.api.waiting_for_answer(longer_than=0.3), what="a long poll in flight")
    before = len(agent_log(faulty))
    proxies.api.reset()
    wait_until(lambda: len(_poll_retries(agent_log(faulty)[before:])) >= 2, what="two failed polls")
    proxies.api.passing()
    agent = faulty.children[next(n for n in faulty.children if n.startswith("agent-"))].proc
    wait_until(lambda: proxies.api.waiting_for_answer(longer_than=0.3), what="a new long poll at the API")
    # The API may still hold a poll the reset cut off; it must not claim this job into a connection nobody
    # reads (where it would wait out the claim window): the agent's new poll takes it, the first time.
    _succeeded_once(op, faulty, op.reboot(), attempt=1)
    assert agent.poll() is None  # the same process: it resumed by itself
    delays = _poll_retries(agent_log(faulty)[before:])
    # Full jitter: each wait is drawn from [0, 2^n) seconds, so they are not the ceilings themselves.
    assert all(0 <= delay <= 2 ** n for n, delay in enumerate(delays)), delays
    assert any(abs(delay - 2 ** n) > 0.05 for n, delay in enumerate(delays)), delays


def test_the_api_stalled_during_a_long_poll_times_out_and_the_agent_resumes(faulty: LocalStack,
                                                                            proxies: Proxies) -> None:
    op = Operator(faulty)
    wait_until(lambda: proxies.api.waiting_for_answer(longer_than=0.3), what="a long poll in flight")
    before = len(agent_log(faulty))
    proxies.api.stall()  # the poll's answer never arrives: the agent gives up after its 5 s wait + 10 s
    wait_until(lambda: "call=/poll problem=ReadTimeout" in agent_log(faulty)[before:], timeout=25,
               what="the poll to time out")
    proxies.api.passing()
    _succeeded_once(op, faulty, op.reboot())


def test_a_slow_network_only_slows_things_down(faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    proxies.api.delay(0.2)
    proxies.s3.delay(0.2)
    _succeeded_once(op, faulty, op.reboot())


def _poll_retries(log: str) -> list[float]:
    return [float(s) for s in re.findall(r"call failed call=/poll problem=\w+ retry_in=([0-9.]+)s", log)]
