"""Races on dynalite, whose conditional writes are atomic (moto's are not):
many threads claiming the same jobs, and a state machine over the real
handlers checking that claims are exclusive and final states stay final."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

from chalice.test import Client
from chalicelib.jobs import dispatch, lifecycle
from chalicelib.jobs.models import FINAL_STATES, LIVE_SHARD, LIVE_STATES, Job
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from .conftest import FakeHost, Operator, queue_without_ringing

TRIALS = 1000
CLAIMERS = 4
# Mostly the claim that holds, as an agent would send it; sometimes a superseded or a made-up one.
TOKEN_PICKS = st.sampled_from(["newest", "newest", "newest", "stale", "unknown"])
# Cancels and missed deliveries end jobs for good: drawn as often as the other rules, they act one time in
# four, so that most jobs live long enough to be claimed, renewed, retried and completed.
SOMETIMES = st.sampled_from([False, False, False, True])


def test_concurrent_claims_never_double_claim(app: Any) -> None:
    agent_id = f"ag_race_{uuid.uuid4().hex[:8]}"
    job_ids = queue_without_ringing(agent_id, "usr_race", TRIALS)
    wins: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(CLAIMERS)

    def claimer() -> None:
        start.wait()
        for job_id in job_ids:
            if dispatch.try_claim(job_id, agent_id) is not None:
                with lock:
                    wins[job_id] += 1

    threads = [threading.Thread(target=claimer) for _ in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == TRIALS, "every job was claimed"
    assert max(wins.values()) == 1, [j for j, n in wins.items() if n > 1][:5]
    assert {Job.get(j).attempt for j in job_ids[:20]} == {1}


class JobLifecycle(RuleBasedStateMachine):
    """Enqueue, claim, renew, complete, cancel, lapse and expire, through the HTTP handlers.

    Every claim token ever handed out is kept, and renewals and completions are sent with any of them,
    the stale ones included: only the newest claim of a live job may be accepted (one live claim per
    job), a completion ends the job as its exit code says, and a final job never changes again.
    """

    client: Client
    op: Operator
    make_host: Any
    host: FakeHost

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, list[str]] = {}  # every claim token each job was handed out, oldest first
        self.finals: dict[str, str] = {}
        self.created: list[str] = []

    @initialize()
    def fresh_host_with_a_job(self) -> None:
        self.host = type(self).make_host()
        self.enqueue("reboot")

    @rule(action=st.sampled_from(["start", "shutdown", "reboot"]))
    def enqueue(self, action: str) -> None:
        answer = self.client.http.post(f"/api/agents/{self.host.agent_id}/vms/test/actions", headers=self.op.headers,
                                       body=json.dumps({"action": action}))
        assert answer.status_code == 202
        self.created.append(str(answer.json_body["job_id"]))

    @rule()
    def claim(self) -> None:
        answer = self.client.http.post("/agent/v1/poll?wait=0", headers=self.host.headers, body='{"max_jobs": 3}')
        for claimed in answer.json_body["jobs"]:
            assert claimed["job_id"] not in self.finals
            assert claimed["claim_token"] not in self.tokens.get(claimed["job_id"], []), "a claim token came twice"
            self.tokens.setdefault(claimed["job_id"], []).append(claimed["claim_token"])

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), pick=TOKEN_PICKS)
    def renew(self, data: st.DataObject, pick: str) -> None:
        job_id = self._pick(list(self.tokens), data)
        token, newest = self._token(job_id, pick)
        live = Job.get(job_id, consistent_read=True).status in LIVE_STATES
        answer = self._agent(f"/agent/v1/jobs/{job_id}/lease", {"claim_token": token, "running": True})
        assert answer.status_code == (200 if newest and live else 409), (answer.status_code, newest, live)

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), pick=TOKEN_PICKS, exit_code=st.sampled_from([0, 1, 2, 3, 124]))
    def complete(self, data: st.DataObject, pick: str, exit_code: int) -> None:
        job_id = self._pick(list(self.tokens), data)
        token, newest = self._token(job_id, pick)
        before = Job.get(job_id, consistent_read=True)
        answer = self._agent(f"/agent/v1/jobs/{job_id}/complete", {"claim_token": token, "exit_code": exit_code})
        accepted = newest and before.status in LIVE_STATES
        assert answer.status_code == (200 if accepted else 409), (answer.status_code, newest, before.status)
        if accepted:
            assert job_id not in self.finals, "a final job changed"
            assert Job.get(job_id, consistent_read=True).status == _ended_as(exit_code, before)

    @rule(data=st.data(), now=SOMETIMES)
    def cancel(self, data: st.DataObject, now: bool) -> None:
        job_id = self._pick(self.created, data)
        if not now:
            return
        answer = self.client.http.post(f"/api/jobs/{job_id}/cancel", headers=self.op.headers, body="{}")
        assert answer.status_code in (200, 409)
        if answer.status_code == 409:
            assert Job.get(job_id).status in FINAL_STATES

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def lapse(self, data: st.DataObject) -> None:
        job_id = self._pick(list(self.tokens), data)
        job = Job.get(job_id)
        if job.status in LIVE_STATES:
            Job(job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
            lifecycle.sweep()

    @rule(data=st.data(), now=SOMETIMES)
    def miss_delivery(self, data: st.DataObject, now: bool) -> None:
        """Its delivery window ends while it waits in the queue: it expires, unless it was claimed first."""
        job_id = self._pick(self.created, data)
        job = Job.get(job_id)
        if now and job.status == "queued":
            Job(job_id).update(actions=[Job.deliver_by.set(int(time.time()) - 1)])
            lifecycle.sweep()
            assert Job.get(job_id, consistent_read=True).status == "expired"

    @invariant()
    def claims_are_exclusive_and_finals_stay(self) -> None:
        for job_id in self.created:
            job = Job.get(job_id, consistent_read=True)
            if job_id in self.finals:
                assert job.status == self.finals[job_id], (job_id, self.finals[job_id], job.status)
            elif job.status in FINAL_STATES:
                self.finals[job_id] = job.status
            if job.status in LIVE_STATES:
                assert job.claim_token == self.tokens[job_id][-1] and job.live_shard == LIVE_SHARD
            else:
                assert job.live_shard is None
            assert int(job.attempt) == len(self.tokens.get(job_id, []))  # one attempt per claim, each claimed once

    def teardown(self) -> None:
        """Every job ends final: cancel what is left, and let lapsed leases retire."""
        for job_id in self.created:
            self.client.http.post(f"/api/jobs/{job_id}/cancel", headers=self.op.headers, body="{}")
            if Job.get(job_id).status in LIVE_STATES:
                Job(job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
        lifecycle.sweep()
        assert {Job.get(j).status for j in self.created} <= FINAL_STATES

    @staticmethod
    def _pick(job_ids: list[str], data: st.DataObject) -> str:
        """One of them. Drawn as an index of fixed range: how many jobs a poll claims varies from run to run
        (a retry's backoff is random), and hypothesis wants each replay of an example to draw alike."""
        return job_ids[data.draw(st.integers(min_value=0, max_value=63), label="job") % len(job_ids)]

    def _token(self, job_id: str, pick: str) -> tuple[str, bool]:
        """The job's newest claim token, an older one, or one it never had; and whether it is the newest."""
        issued = self.tokens.get(job_id, [])
        if pick == "newest" and issued:
            return issued[-1], True
        if pick == "stale" and len(issued) > 1:
            return issued[0], False
        return "never-issued", False

    def _agent(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.http.post(path, headers=self.host.headers, body=json.dumps(body))


def _ended_as(exit_code: int, before: Job) -> str:
    """What a completion makes of a live job: 2 and 124 retry while attempts are left and no cancel was asked
    for (a job being cancelled ends with the attempt's own outcome)."""
    if exit_code in (2, 124) and int(before.attempt) < int(before.max_attempts) and not before.cancel_requested:
        return "queued"
    return {0: "succeeded", 124: "timed_out"}.get(exit_code, "failed")


def test_job_lifecycle_state_machine(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    JobLifecycle.client = client
    JobLifecycle.op = op
    # A fresh host per example keeps examples independent.
    JobLifecycle.make_host = staticmethod(lambda: enrol(op))
    runner = JobLifecycle.TestCase()
    runner.settings = settings(max_examples=30, stateful_step_count=30, deadline=None, database=None,
                               suppress_health_check=list(HealthCheck))
    runner.runTest()
