"""Faults at the worst moments of a job, made for real on the fault stack (conftest.py: leases of 6 s,
claims unacknowledged for 2 s lapse, a sweeper every second): the API killed between writing a claim
and answering it, the agent killed with SIGKILL while a job runs, a cancel racing the completion, and a
lapsing lease racing it.

The slow job is an ACPI shutdown of `stubborn1`, a VM that ignores ACPI (fault_helpers.stubborn_host),
with a `timeout_seconds` after which the agent forces it off: it runs for as long as the test needs.
The completion is held in flight by stalling the proxy between the agent and the API after the result
has reached S3 (the result PUT goes through the other proxy), so the test decides what the control plane
hears first. Each test asserts that the job ends in one final state that never changes again, that its
result is readable through the API (which checks it is exactly what the agent uploaded), and which
attempts the agent started (from its log), so nothing is lost and nothing ran twice by surprise.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local import LocalStack
from tests.agent.conftest import STUBBORN1
from tests.conftest import wait_until

from .conftest import FAULT_LEASE_SECONDS, Proxies
from .fault_helpers import Operator, agent_child, agent_log, attempts_run, restart_agent, stubborn_host

pytestmark = pytest.mark.e2e
ESCALATE_AFTER = 2  # seconds the shutdown waits for stubborn1 before forcing it off


@pytest.fixture(autouse=True)
def healed(proxies: Proxies) -> Iterator[None]:
    yield
    proxies.heal()


@pytest.fixture
def stubborn(faulty: LocalStack, tmp_path: Path) -> Iterator[Operator]:
    with stubborn_host(faulty, tmp_path / "stubborn.xml") as op:
        yield op


def _slow_shutdown(op: Operator) -> str:
    job_id = op.act("shutdown", vm=STUBBORN1, timeout_seconds=ESCALATE_AFTER)
    wait_until(lambda: op.job(job_id)["status"] == "running", what="the shutdown running")
    return job_id


def _result_uploaded(proxies: Proxies, job_id: str) -> bool:
    return any(r.startswith("PUT ") and f"/{job_id}/" in r for r in proxies.s3.requests)


def _hold_the_completion(proxies: Proxies, job_id: str) -> None:
    """Stall the agent's way to the API while the job runs; return once its result is in S3, so the
    completion is on its way and goes no further than the proxy."""
    proxies.api.stall()
    wait_until(lambda: _result_uploaded(proxies, job_id), timeout=ESCALATE_AFTER + 8, what="the result uploaded")


def _cancel(op: Operator, job_id: str) -> tuple[int, dict[str, Any]]:
    answer = op.session.post(f"{op.stack.url}/api/jobs/{job_id}/cancel", timeout=10)
    return answer.status_code, answer.json()


def _stays(op: Operator, job: dict[str, Any], seconds: float = 2 * 1.5) -> None:
    """Final states never change: not through the agent's late calls, nor the sweeper's next rounds."""
    time.sleep(seconds)
    later = op.job(job["job_id"])
    keys = ("status", "attempt", "exit_code", "summary")
    assert {k: later[k] for k in keys} == {k: job[k] for k in keys}


def test_the_api_killed_after_writing_a_claim_and_before_answering_loses_nothing(faulty: LocalStack,
                                                                                  proxies: Proxies) -> None:
    op = Operator(faulty)
    agent = faulty.children[agent_child(faulty)].proc
    # A poll in flight that has seconds of its 5 s wait left, so the job below is claimed inside it.
    wait_until(lambda: proxies.api.waiting_for_answer(longer_than=0.3)
               and not proxies.api.waiting_for_answer(longer_than=2.5), what="a fresh long poll in flight")
    proxies.api.stall()  # what the API writes back goes no further than the proxy
    job_id = op.act("reboot")
    wait_until(lambda: op.job(job_id)["status"] == "claimed", what="the claim written")
    faulty.stop_child("api", signal.SIGKILL)
    proxies.api.reset()  # the dead API's connections go, and the answer it wrote with them
    faulty.start_api()
    proxies.api.passing()

    job = op.wait_final(job_id)

    # Attempt 1 was claimed and never delivered: its claim lapsed and attempt 2 ran, once.
    assert (job["status"], job["exit_code"], job["attempt"]) == ("succeeded", 0, 2), job
    assert attempts_run(faulty, job_id) == [2]
    assert op.result(job)["attempt"] == 2
    assert agent.poll() is None  # the same agent process: it waited the API out by itself
    _stays(op, job)


def test_an_agent_killed_mid_job_comes_back_and_the_next_attempt_runs_once(faulty: LocalStack,
                                                                           stubborn: Operator) -> None:
    op = stubborn
    job_id = _slow_shutdown(op)
    faulty.stop_child(agent_child(faulty), signal.SIGKILL)
    journal = [json.loads(line) for line in (faulty.root / "agent" / "journal.jsonl").read_text().splitlines()]
    # Written before libvirt was touched, with the claim token, and never settled: it survives the kill.
    started = [line for line in journal if line[:2] == [job_id, 1]]
    assert len(started) == 1 and isinstance(started[0][2], str), journal
    restart_agent(faulty)  # the same identity; stubborn1 is running again in the new process

    job = op.wait_final(job_id, timeout=FAULT_LEASE_SECONDS + ESCALATE_AFTER + 30)

    assert (job["status"], job["exit_code"], job["attempt"]) == ("succeeded", 0, 2), job
    assert attempts_run(faulty, job_id) == [1, 2]
    # The new process said at once that attempt 1 died with the old one, instead of letting its lease lapse.
    assert f"job reported interrupted job_id={job_id} attempt=1" in agent_log(faulty)
    result = op.result(job)
    assert (result["attempt"], result["data"]) == (2, {"escalated": True})
    assert op.get(f"/api/agents/{op.agent_id}/vms/{STUBBORN1}")["state"] == "shutoff"
    assert len(op.get("/api/agents")["agents"]) == 1  # it came back as itself: no second enrolment
    _stays(op, job)


def test_a_completion_in_flight_when_the_cancel_lands_stands(faulty: LocalStack, proxies: Proxies,
                                                             stubborn: Operator) -> None:
    op = stubborn
    job_id = _slow_shutdown(op)
    _hold_the_completion(proxies, job_id)
    status, answer = _cancel(op, job_id)
    assert (status, answer["status"], answer["cancel_requested"]) == (200, "running", True)
    proxies.api.passing()

    job = op.wait_final(job_id)

    # The VM was forced off before the cancel was asked for: the job says what happened.
    assert (job["status"], job["exit_code"], job["attempt"]) == ("succeeded", 0, 1), job
    assert op.result(job)["data"] == {"escalated": True}
    assert attempts_run(faulty, job_id) == [1]
    status, answer = _cancel(op, job_id)
    assert (status, answer["error"]["code"]) == (409, "job_final")
    _stays(op, job)


def test_a_cancel_that_lands_first_stops_the_running_job_cleanly(faulty: LocalStack,
                                                                           stubborn: Operator) -> None:
    op = stubborn
    job_id = _slow_shutdown(op)
    status, _answer = _cancel(op, job_id)
    assert status == 200

    job = op.wait_final(job_id, timeout=ESCALATE_AFTER + 10)

    assert (job["status"], job["exit_code"], job["attempt"]) == ("cancelled", 1, 1), job
    assert (job["summary"], job["result"]) == ("cancelled by the operator", None)
    # Cancelled while it waited: nothing was forced off.
    assert op.get(f"/api/agents/{op.agent_id}/vms/{STUBBORN1}")["state"] == "running"
    assert attempts_run(faulty, job_id) == [1]
    _stays(op, job)


def test_a_lease_that_lapses_while_the_completion_is_in_flight_fences_it_off(faulty: LocalStack,
                                                                             proxies: Proxies,
                                                                             stubborn: Operator) -> None:
    op = stubborn
    job_id = _slow_shutdown(op)
    _hold_the_completion(proxies, job_id)
    wait_until(lambda: op.job(job_id)["attempt"] == 1 and op.job(job_id)["status"] == "queued",
               timeout=FAULT_LEASE_SECONDS + 5, what="the lease to lapse with the completion in flight")
    proxies.api.passing()

    job = op.wait_final(job_id, timeout=30)

    # Attempt 1's completion came too late and was refused; attempt 2 found the VM off already.
    wait_until(lambda: re.search(rf"job (result not recorded: the claim was lost|abandoned) job_id={job_id} "
                                 "attempt=1", agent_log(faulty)), what="attempt 1's completion refused")
    assert (job["status"], job["exit_code"], job["attempt"]) == ("succeeded", 0, 2), job
    assert op.result(job)["data"] == {"already_done": True}
    assert attempts_run(faulty, job_id) == [1, 2]
    _stays(op, job)
