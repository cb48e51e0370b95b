"""The agent's main loop: enrol, heartbeat, long-poll, and run each claimed job safely.

For every claimed job (a claim.Claim, read once from the poll answer): verify
the envelope → on refusal report it and run nothing → journal the attempt
(fsync'd) → mark it running with the first lease call → run the handler while
a keeper thread renews the lease (lease.py) → upload the result JSON
(uploads.py: with fresh URLs if S3 says the first ones expired) → complete. At
most `max_jobs` run at once, each in a worker of a thread pool; the handler
itself runs in a thread of its own, so that a cancel (lease or heartbeat
answer), or the operation's time limit passing (jobs/timeouts.py: exit code
124), lets the worker complete the job at once, while a libvirt call that
cannot be interrupted finishes in the background (the job's slot stays taken
until it has). Heartbeats run in their own thread (heartbeat.py),
and one follows each job so the inventory stays fresh. The control plane being
down only slows things: every call backs off with jitter and the loop resumes
by itself. Between jobs the agent waits on its own SQS queue, not in a Lambda
(waiting.py), and calls the API only to claim what was rung. A host waiting
for its owner's approval (202 at enrolment, 403 host_pending_approval later)
waits with a slower backoff. A 401 is the one thing that stops the agent,
because no retry can fix an identity the control plane no longer accepts. An attempt the journal shows started and never
settled was running when this agent last died: it is reported at start-up
(exit 2, `agent_restarted`), so its retry begins now instead of after the lease.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

from . import jobs, status
from .claim import Claim
from .client import (
    APPROVAL_BACKOFF_BASE,
    BACKOFF_BASE,
    ApiError,
    Backoff,
    ControlPlane,
    PendingApproval,
    StaleClaim,
    Unauthorized,
    approval_backoff,
    unless_refused,
)
from .config import Config
from .enrollment import FatalError, enroll, follow_announcement, prepare_state, state_lock
from .heartbeat import Heartbeat
from .hypervisor.host import Host
from .journal import Journal
from .lease import LEASE_RENEW_SECONDS, ActiveJob, LeaseKeeper
from .metrics import Sampler
from .state import AgentState
from .uploads import ResultUploader
from .verify import Policy, Refused, VerifiedJob, verify
from .waiting import ConsoleRings, QueueWaiter, unless_stopped

EXIT_OK = 0
EXIT_UNAUTHORIZED = 3  # the control plane no longer accepts this agent: an operator must re-enrol it
MAX_JOBS_PER_POLL = 10  # the control plane's limit
MAX_SESSIONS = 8  # open consoles at once, besides max_jobs operations
CANCELLED_SUMMARY = "cancelled by the operator"
EXIT_CANCELLED = jobs.EXIT_INVALID  # the protocol's exit code for a cancelled job: no retry
STOP_GRACE_SECONDS = 1.5  # what a job in hand gets to finish once the agent is asked to stop
INTERRUPTED_SUMMARY = ("agent_restarted: the agent stopped while this attempt ran (killed or crashed) and "
                       "reported it when it came back")

log = logging.getLogger(__name__)


def run_agent(config: Config, *, stop: threading.Event | None = None, install_signals: bool = True,
              exit_process: bool = False) -> int:
    """Run until stopped (SIGTERM/SIGINT or `stop`); returns the process exit code.

    `exit_process` (the command line): when jobs were left running, end the process here and now, since Python
    would otherwise wait for their threads at exit."""
    host = Host(config.libvirt_uri, config.deploy)
    runner: Runner | None = None
    try:
        with state_lock(config.state_dir):
            state = prepare_state(config)
            runner = Runner(config, state, host, stop=stop)
            if install_signals:
                _install_signal_handlers(runner)
            code = runner.run()
    except FatalError as exc:
        log.error("agent stopped: %s", exc)
        return exc.exit_code
    finally:
        host.close()
    if exit_process and runner is not None and runner.left_running:
        logging.shutdown()
        os._exit(code)
    return code


class Runner:
    def __init__(self, config: Config, state: AgentState, host: Host, *, client: ControlPlane | None = None,
                 journal: Journal | None = None, stop: threading.Event | None = None,
                 backoff_base: float = BACKOFF_BASE, approval_backoff_base: float = APPROVAL_BACKOFF_BASE) -> None:
        """`backoff_base` (failed calls, result uploads) and `approval_backoff_base` (waiting for the owner's
        approval) are there for tests; the defaults are the protocol's."""
        self.config = config
        self.state = state
        self.host = host
        self.stop = stop or threading.Event()
        self.backoff_base = backoff_base
        self.approval_backoff_base = approval_backoff_base
        self.client = client or ControlPlane(state.url, state.private_key, state.agent_id, stop=self.stop,
                                             pool_size=config.max_jobs + 4 + 2 * MAX_SESSIONS,
                                             backoff_base=backoff_base, process=uuid.uuid4().hex)
        self.journal = journal or Journal.in_state_dir(config.state_dir)
        self.results = ResultUploader(self.client, backoff_base=backoff_base)
        self.metrics = Sampler(host.domain_stats, self.client.upload, stop=self.stop, read_host=host.cpu_times,
                               step=config.metrics_step_seconds, batch_seconds=config.metrics_batch_seconds)
        self.heartbeat = Heartbeat(self.client, host, interval=config.heartbeat_seconds, stop=self.stop,
                                   jobs_in_hand=self.running_job_ids, on_answer=self._apply_heartbeat_answer,
                                   on_unauthorized=self._die, approval_backoff_base=approval_backoff_base,
                                   waiting_on=lambda: "queue" if self.waiter.in_use else "api",
                                   extra=self.metrics.heartbeat_fields, usage=self.metrics.host_usage,
                                   on_report=lambda error: status.record(config.state_dir, host.uri, error))
        self.waiter = QueueWaiter(self.client, backoff_base=backoff_base, on_ping=self.heartbeat.now,
                                  on_console=self._console_rung, on_metrics=self.metrics.rung, stop=self.stop)
        self.console_rings = ConsoleRings(lambda: self.waiter.listening)
        self.lease_renew_seconds = LEASE_RENEW_SECONDS
        self._exit_code = EXIT_OK
        self._slots = threading.Semaphore(config.max_jobs)
        self._sessions = threading.Semaphore(MAX_SESSIONS)
        self._active: dict[str, ActiveJob] = {}
        self._active_lock = threading.Lock()
        self._claimed_once = False
        self._waiting_on_queue = False
        self._refused_announcement: str | None = None  # the last refusal's detail, so it is logged once
        self.left_running: list[str] = []  # job ids still running when the agent stopped (left to the journal)

    def run(self) -> int:
        """Enrol if needed (waiting for the owner's approval), then heartbeat and poll until stopped."""
        if not self.state.enrolled:
            self.heartbeat.look()  # status.json: whether this process reaches libvirt, even while unapproved
        if not self.state.enrolled and not self._enroll():
            log.info("agent stopped while waiting for approval")
            return self._exit_code
        log.info("agent running agent_id=%s name=%s url=%s libvirt=%s max_jobs=%d", self.state.agent_id,
                 self.state.name, self.state.url, self.host.uri, self.config.max_jobs)
        self._report_interrupted()
        self.heartbeat.start()
        self.metrics.start()
        pool = ThreadPoolExecutor(max_workers=self.config.max_jobs + MAX_SESSIONS, thread_name_prefix="job")
        try:
            self._poll_loop(pool)
        finally:
            self.request_stop()
            self._let_jobs_finish(pool)
        self.heartbeat.join(timeout=1)
        self.metrics.join(timeout=1)
        log.info("agent stopped exit_code=%d", self._exit_code)
        return self._exit_code

    def _let_jobs_finish(self, pool: ThreadPoolExecutor) -> None:
        """Jobs in hand get STOP_GRACE_SECONDS to finish and be reported. One still running then is left as
        the protocol has it for an agent that stops mid-job: its attempt stays in the journal, unsettled, so
        the next start reports it (`agent_restarted`, exit 2: retried at once), or else its lease lapses and
        the control plane retries it. A claim an abandoned long poll took lapses after the claim-ack window."""
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.running_job_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.left_running = self.running_job_ids()
        if self.left_running:
            log.warning("stopping with jobs still running job_ids=%s: left to the journal, reported when the "
                        "agent starts again (else their leases lapse)", ",".join(self.left_running))
        pool.shutdown(wait=not self.left_running, cancel_futures=True)

    def request_stop(self) -> None:
        """Stop polling; jobs in hand finish and are reported first."""
        self.stop.set()
        self.heartbeat.wake()
        self.metrics.wake()

    def running_job_ids(self) -> list[str]:
        with self._active_lock:
            return sorted(self._active)

    def _enroll(self) -> bool:
        """Register until the owner has approved the host (same token, same key); False if stopped meanwhile."""
        backoff = approval_backoff(self.approval_backoff_base)
        while not enroll(self.config, self.state, self.client, self.host, budget=None):
            delay = backoff.next_delay()
            log.info("registering again in %.0f s", delay)
            if self.stop.wait(delay):
                return False
        return True

    def _report_interrupted(self) -> None:
        """Attempts that were running when this agent last died: reported at once with exit 2, so each is retried
        (while attempts last) now rather than after its lease has lapsed."""
        for job_id, attempt, claim_token in self.journal.interrupted():
            try:
                self.client.complete(job_id, claim_token, exit_code=jobs.EXIT_TRANSIENT, summary=INTERRUPTED_SUMMARY,
                                     outputs=[], vm=None)
                log.warning("job reported interrupted job_id=%s attempt=%d", job_id, attempt)
            except StaleClaim:
                log.info("interrupted job already moved on job_id=%s attempt=%d", job_id, attempt)
            except Unauthorized as exc:
                self._die(exc)
                return
            except ApiError as exc:
                log.warning("interrupted job not reported job_id=%s attempt=%d error=%s; its lease will lapse",
                            job_id, attempt, exc)
            self.journal.settle(job_id, attempt)

    # -- polling ---------------------------------------------------------------------------------

    def _poll_loop(self, pool: ThreadPoolExecutor) -> None:
        failures, approval = Backoff(base=self.backoff_base), approval_backoff(self.approval_backoff_base)
        while not self.stop.is_set():
            free = self._take_slots()
            if free == 0:
                continue
            claimed = self._poll(free, failures, approval)
            if claimed is None:
                self._release(free)
                continue
            self._release(max(0, free - len(claimed)))
            for index, item in enumerate(claimed):
                pool.submit(self._process, item, index < free)

    def _poll(self, free: int, failures: Backoff, approval: Backoff) -> list[Claim] | None:
        """Claimed jobs; None after a failure has been waited out (or the agent has to stop).

        The wait happens on the host's own queue when it can (waiting.py): a quiet one asks the API
        nothing, and what was rung is claimed by a poll that does not wait; else in the API's long poll.
        """
        try:
            if self._claimed_once:
                rung = self.waiter.wait()
                self._note_where_waiting()
                if rung is not None and not rung:
                    return []
            else:
                # The first poll looks at the table without waiting: rings a process before this one read and
                # died holding are gone from the queue, and the next heartbeat's ring_again is minutes away.
                rung = []
            wait = self.config.poll_wait if rung is None else 0

            def poll() -> list[Claim] | None:
                return self.client.poll(wait, max_jobs=free, rung=rung,
                                        on_cancel=lambda ids: self._cancel_jobs(ids, "poll answer"))

            # A stopping agent leaves the API's long poll at once (what it may claim meanwhile lapses unacknowledged).
            claimed = unless_stopped(poll, self.stop, None, name="api-poll")
            if claimed is None:
                return None
        except Unauthorized as exc:
            self._die(exc)
            return None
        except PendingApproval:
            self._pause(approval.next_delay(), f"this host waits for its owner's approval "
                                               f"agent_id={self.state.agent_id} name={self.state.name}")
            return None
        except ApiError as exc:
            self._pause(failures.next_delay(), f"poll failed error={exc}")
            return None
        failures.reset()
        approval.reset()
        self._claimed_once = True
        return claimed

    def _note_where_waiting(self) -> None:
        """A host that starts or stops waiting on its own queue says so in a moment (its heartbeat's
        `waiting_on`), not at its next regular beat: waiting in the API is what the operator pays for."""
        if self.waiter.in_use != self._waiting_on_queue:
            self._waiting_on_queue = self.waiter.in_use
            self.heartbeat.soon()

    def _console_rung(self, console_id: str) -> None:
        """An operator typed into (or closed) a console session: its session fetches now."""
        self.console_rings.ring(console_id)

    def _pause(self, delay: float, why: str) -> None:
        if not self.stop.is_set():
            log.warning("%s; polling again in %.1f s", why, delay)
            self.stop.wait(delay)

    def _take_slots(self) -> int:
        """Wait for one free job slot, then take the other free ones too: one poll may claim that many."""
        if not self._slots.acquire(timeout=1.0):
            return 0
        taken = 1
        while taken < min(self.config.max_jobs, MAX_JOBS_PER_POLL) and self._slots.acquire(blocking=False):
            taken += 1
        return taken

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    # -- one job ---------------------------------------------------------------------------------

    def _process(self, claim: Claim, holds_slot: bool) -> None:
        slot = _Slot(self._slots if holds_slot else None)
        try:
            self._handle_claim(claim, slot)
        except Unauthorized as exc:
            self._die(exc)
        except Exception as exc:  # a worker must survive anything one job does
            log.error("job processing failed error=%s: %s", type(exc).__name__, exc)
            log.debug("job processing traceback", exc_info=True)
        finally:
            slot.release()

    def _handle_claim(self, claim: Claim, slot: _Slot) -> None:
        try:
            job = self._verify(claim)
        except Refused as refusal:
            self._report_refusal(claim, refusal)
            return
        except OSError as exc:
            self._report_unjournaled(claim, exc)
            return
        log.info("job accepted job_id=%s attempt=%d op=%s kid=%s args=%s", job.job_id, job.attempt, job.op, job.kid,
                 json.dumps(dict(job.args), sort_keys=True))
        try:
            if jobs.is_session(job.op):
                self._run_session(job, claim, slot)
            else:
                self._start(job, claim)
        finally:
            self.journal.settle(job.job_id, job.attempt)

    def _run_session(self, job: VerifiedJob, claim: Claim, slot: _Slot) -> None:
        """A console lives as long as its session: it gives its job slot back and counts against MAX_SESSIONS."""
        if not self._sessions.acquire(blocking=False):
            log.warning("session refused job_id=%s: %d sessions are open already", job.job_id, MAX_SESSIONS)
            self._complete_unrun(job.job_id, claim.claim_token, jobs.EXIT_TRANSIENT,
                                 f"agent_busy: this host has {MAX_SESSIONS} consoles open already")
            return
        slot.release()
        try:
            self._start(job, claim)
        finally:
            self._sessions.release()

    def _start(self, job: VerifiedJob, claim: Claim) -> None:
        active = ActiveJob(job, claim.claim_token, result_target=claim.result_target)
        if not self._mark_running(active):
            return
        if active.cancel_requested.is_set():
            self._settle(active, [])
        else:
            self._run_job(active)

    def _mark_running(self, active: ActiveJob) -> bool:
        """The first lease call (`running: true`); False if the job must not start. It may be cancelled already."""
        job = active.job
        try:
            answer = unless_refused(lambda: self.client.lease(job.job_id, active.claim_token, running=True), log,
                                    "job not started: could not mark it running", job.job_id)
        except StaleClaim:
            log.warning("job not started: the claim was lost job_id=%s attempt=%d", job.job_id, job.attempt)
            return False
        if answer is None:
            return False
        active.lease_expires_at = answer.get("lease_expires_at")
        if answer.get("cancel"):
            active.cancel("cancelled by the operator before it started")
        return True

    def _verify(self, claim: Claim) -> VerifiedJob:
        """Verify, then journal the attempt; a concurrent duplicate loses the journal race as `replayed`."""
        job = verify(claim.envelope, self._policy(), self.client.server_now())
        if not self.journal.record(job.job_id, job.attempt, claim.claim_token):
            raise Refused("replayed", f"attempt {job.attempt} of {job.job_id} was already started")
        return job

    def _policy(self) -> Policy:
        return Policy(keys=self.state.pinned_keys(), agent_id=str(self.state.agent_id),
                      allowed_ops=jobs.allowed_ops(self.config.allowed_ops), args_valid=jobs.args_valid,
                      has_started=self.journal.has_started)

    def _run_job(self, active: ActiveJob) -> None:
        job = active.job
        outcome: list[jobs.Result] = []
        handler = threading.Thread(target=self._run_handler, args=(active, outcome), name=f"handler-{job.job_id}",
                                   daemon=True)
        with self._active_lock:
            self._active[job.job_id] = active
        limit = jobs.time_limit(job.op, job.args, self.config.op_timeouts)
        handler.start()
        try:
            with LeaseKeeper(self.client, active, self.lease_renew_seconds):
                if not active.settled.wait(limit) and limit is not None:
                    active.time_out(limit)
                self._settle(active, outcome, limit)
        finally:
            with self._active_lock:
                self._active.pop(job.job_id, None)
            self.heartbeat.soon()
            handler.join()  # a cancelled job's slot stays taken until its libvirt call is over

    def _run_handler(self, active: ActiveJob, outcome: list[jobs.Result]) -> None:
        job = active.job
        try:
            result = jobs.run(job, self.host, jobs.Link(self.client, active.claim_token, self.console_rings))
            outcome.append(result)
            late = " (after its outcome stopped mattering)" if job.cancelled.is_set() else ""
            log.info("job finished%s job_id=%s attempt=%d exit_code=%d summary=%s", late, job.job_id,
                     job.attempt, result.exit_code, result.summary)
        finally:
            active.settled.set()

    def _settle(self, active: ActiveJob, outcome: list[jobs.Result], limit: float | None = None) -> None:
        """Report the job: nothing if abandoned, cancelled once the operator asked, timed out past its limit,
        else the handler's result."""
        job = active.job
        try:
            if active.abandoned.is_set():
                return
            if active.cancel_requested.is_set():
                self._report_cancelled(active)
            elif active.timed_out.is_set() and limit is not None:
                self._report(active, jobs.timed_out(job, limit))
            else:
                self._report(active, outcome[0])
        except StaleClaim:
            log.warning("job result not recorded: the claim was lost job_id=%s attempt=%d", job.job_id,
                        job.attempt)

    def _report_cancelled(self, active: ActiveJob) -> None:
        """Complete a cancelled job at once, with the VM as it is now; no result document is uploaded."""
        job = active.job
        vm = jobs.vm_now(job, self.host)
        answer = unless_refused(lambda: self.client.complete(job.job_id, active.claim_token, exit_code=EXIT_CANCELLED,
                                                             summary=CANCELLED_SUMMARY, outputs=[], vm=vm,
                                                             cancelled=True),
                                log, "job cancellation not recorded", job.job_id, level=logging.ERROR)
        if answer is not None:
            log.info("job reported cancelled job_id=%s attempt=%d vm_state=%s", job.job_id, job.attempt,
                     vm["state"] if vm else None)

    def _report(self, active: ActiveJob, result: jobs.Result) -> None:
        outputs = self.results.upload(active, result.document)
        if active.abandoned.is_set():
            return
        job_id = active.job.job_id
        unless_refused(lambda: self.client.complete(job_id, active.claim_token, exit_code=result.exit_code,
                                                    summary=result.summary, outputs=outputs, vm=result.vm),
                       log, "job completion not recorded", job_id, level=logging.ERROR)

    def _report_refusal(self, claim: Claim, refusal: Refused) -> None:
        log.warning("job refused job_id=%s reason=%s detail=%s", claim.job_id, refusal.reason, refusal.detail)
        self._complete_unrun(claim.job_id, claim.claim_token, jobs.EXIT_INVALID, f"refused: {refusal.reason}")

    def _report_unjournaled(self, claim: Claim, exc: OSError) -> None:
        log.error("job not started: the journal cannot be written job_id=%s error=%s", claim.job_id, exc)
        self._complete_unrun(claim.job_id, claim.claim_token, jobs.EXIT_TRANSIENT,
                             "agent_error: cannot write the job journal")

    def _complete_unrun(self, job_id: str | None, claim_token: str, exit_code: int, summary: str) -> None:
        if job_id is None:
            # Nothing to address the report to; the claim lapses and the control plane retires the job.
            return
        unless_refused(lambda: self.client.complete(job_id, claim_token, exit_code=exit_code, summary=summary,
                                                    outputs=[], vm=None),
                       log, "refusal not recorded", job_id)

    # -- heartbeat answers ------------------------------------------------------------------------

    def _apply_heartbeat_answer(self, answer: dict[str, Any]) -> None:
        self._cancel_jobs(answer.get("cancel") or [], "heartbeat answer")
        self.metrics.offered(answer)
        if "key_announcement" in answer:
            self._follow_announcement(answer["key_announcement"])

    def _cancel_jobs(self, job_ids: list[Any], source: str) -> None:
        for job_id in job_ids:
            with self._active_lock:
                active = self._active.get(job_id) if isinstance(job_id, str) else None
            if active is not None:
                active.cancel(f"cancelled by the operator ({source})")

    def _follow_announcement(self, envelope: object) -> None:
        """Pin the announced job-signing keys if a pinned key vouches for them; say once why not."""
        try:
            follow_announcement(self.config, self.state, envelope)
        except Refused as refusal:
            if refusal.detail != self._refused_announcement:
                log.warning("job-signing key announcement refused reason=%s detail=%s; the pinned keys stay "
                            "kids=%s serial=%d", refusal.reason, refusal.detail,
                            ",".join(sorted(self.state.signing_keys)), self.state.signing_keys_serial)
            self._refused_announcement = refusal.detail
            return
        self._refused_announcement = None

    # -- stopping --------------------------------------------------------------------------------

    def _die(self, exc: Unauthorized) -> None:
        if exc.code == "agent_revoked":
            why = "this host was deregistered by its owner (agent_revoked)"
        else:
            why = f"the control plane no longer accepts this agent's identity ({exc.code}: {exc.message})"
        log.error("stopping: %s. Enrol the host again to bring it back.", why)
        self._exit_code = EXIT_UNAUTHORIZED
        self.request_stop()


def _install_signal_handlers(runner: Runner) -> None:
    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if runner.stop.is_set():
            raise KeyboardInterrupt  # a second signal: stop waiting for the current poll
        log.info("%s received: finishing running jobs, then stopping", signal.Signals(signum).name)
        runner.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


class _Slot:
    """One job slot a worker holds, given back exactly once (early, for a session)."""

    def __init__(self, slots: threading.Semaphore | None) -> None:
        self._slots = slots
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            slots, self._slots = self._slots, None
        if slots is not None:
            slots.release()
