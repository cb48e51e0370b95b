"""The whole agent against a fake control plane over real HTTP and libvirt's test driver."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.config import Config, resolve_config
from fleetvisor_agent.enrollment import EXIT_CONFIG, prepare_state
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.journal import Journal
from fleetvisor_agent.runner import EXIT_OK, EXIT_UNAUTHORIZED, Runner, run_agent
from fleetvisor_agent.state import b64url_encode, load_state

from tests.conftest import wait_until

from .conftest import CACHE1, DB1, STUBBORN1, WEB1, announce
from .fake_control_plane import AGENT_ID, KID, MAX_HOLD_SECONDS, Call, FakeControlPlane, running


@dataclass
class RunningAgent:
    runner: Runner
    thread: threading.Thread
    exit_codes: list[int]

    def stop(self) -> int:
        self.runner.request_stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the agent did not stop"
        self.runner.host.close()
        # A stopping agent abandons its poll, which the fake may hold a moment longer: let it end empty before a
        # test queues jobs for the next agent (the real API lets an abandoned poll claim nothing once a newer one
        # arrives, and an unacknowledged claim lapses).
        time.sleep(MAX_HOLD_SECONDS + 0.05)
        return self.exit_codes[0]


@pytest.fixture
def fake(vector_key: Ed25519PrivateKey) -> Iterator[FakeControlPlane]:
    with running(FakeControlPlane(signing_key=vector_key)) as started:
        yield started


def config_for(fake: FakeControlPlane, state_dir: Path, libvirt_uri: str, token: str | None = "fvet_good") -> Config:
    return resolve_config(url=fake.url, token=token, libvirt_uri=libvirt_uri, state_dir=state_dir, name="hv1",
                          poll_wait=1, heartbeat_seconds=5, env={}, hostname="hv1.example",
                          default_config_file=None)


def start(config: Config, *, lease_renew_seconds: float = 40.0) -> RunningAgent:
    runner = Runner(config, prepare_state(config), Host(config.libvirt_uri, config.deploy), backoff_base=0.01,
                    approval_backoff_base=0.05)
    runner.heartbeat.soon_seconds = 0.05
    runner.lease_renew_seconds = lease_renew_seconds
    exit_codes: list[int] = []
    thread = threading.Thread(target=lambda: exit_codes.append(runner.run()), daemon=True)
    thread.start()
    return RunningAgent(runner, thread, exit_codes)


def completions(fake: FakeControlPlane) -> dict[str, dict[str, Any]]:
    return {call.path.split("/")[4]: call.json() for call in fake.calls_to("/complete")}


def process_named(call: Call) -> str | None:
    token = call.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    return claims.get("inst")


def test_jobs_run_report_and_refuse_with_a_clock_20_minutes_off(fake: FakeControlPlane, node_uri: str,
                                                                 tmp_path: Path) -> None:
    # 20 min behind: by our own clock every job has expired and every JWT is from the future.
    fake.clock_offset = -1200.0
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    fake.queue_job("vm.start", DB1, job_id="job_b")
    fake.queue_job("vm.resume", CACHE1, job_id="job_c", kid="rotated-away")
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: len(completions(fake)) == 3 and completions(fake))
    assert agent.stop() == EXIT_OK

    assert done["job_a"] == {"claim_token": "ct-job_a-1", "exit_code": 0, "outputs": ["result"],
                             "summary": "vm.suspend: VM 'web1' is now paused.",
                             "vm": {"uuid": WEB1, "name": "web1", "state": "paused", "state_reason": "user",
                                    "vcpus": 2, "memory_kib": 1048576, "autostart": False, "persistent": True,
                                    "addresses": []}}
    assert (done["job_b"]["exit_code"], done["job_b"]["vm"]["state"]) == (0, "running")
    assert done["job_c"] == {"claim_token": "ct-job_c-1", "exit_code": 1, "summary": "refused: unknown_kid",
                             "outputs": [], "vm": None}
    result = json.loads(fake.uploads["/upload/job_a/1"])
    assert result == {"job_id": "job_a", "attempt": 1, "op": "vm.suspend", "ok": True,
                      "vm": done["job_a"]["vm"], "error": None, "data": None, "duration_ms": result["duration_ms"]}
    assert fake.calls_to("/job_a/lease")[0].json() == {"claim_token": "ct-job_a-1", "running": True}
    assert not fake.calls_to("/job_c/lease")
    assert sorted(Journal(tmp_path / "state" / "journal.jsonl").entries()) == [("job_a", 1), ("job_b", 1)]


def test_enrolment_pins_keys_and_heartbeats_carry_the_inventory(fake: FakeControlPlane, node_uri: str,
                                                                tmp_path: Path) -> None:
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")

    def heartbeat_after_the_job() -> Any:
        for call in fake.calls_to("/heartbeat"):
            states = {vm["name"]: vm["state"] for vm in call.json()["vms"]}
            if states.get("web1") == "paused":
                return call.json()
        return None

    beat = wait_until(heartbeat_after_the_job)
    agent.stop()

    [register] = fake.calls_to("/register")
    sent = register.json()
    assert (sent["name"], sent["hostname"], sent["token"]) == ("hv1", "hv1.example", "fvet_good")
    assert sent["capabilities"]["hypervisor"] == "TEST" and "environment" not in sent
    state = load_state(tmp_path / "state")
    assert state is not None and state.agent_id == AGENT_ID and state.public_key == sent["public_key"]
    assert state.signing_keys == {k["kid"]: k["public_key"] for k in fake.signing_keys()}
    assert [vm["name"] for vm in beat["vms"]] == ["cache1", "db1", "web1"]
    assert beat["capabilities"]["hypervisor_available"] is True
    assert set(beat) == {"capabilities", "vms", "running_jobs"}


def test_a_restarted_agent_refuses_a_job_it_already_started(fake: FakeControlPlane, node_uri: str,
                                                            tmp_path: Path) -> None:
    config = config_for(fake, tmp_path / "state", node_uri)
    claimed = fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    first = start(config)
    wait_until(lambda: "job_a" in completions(fake))
    first.stop()
    fake.calls.clear()

    fake.queue_job("vm.suspend", WEB1, job_id="job_a", envelope=claimed["envelope"])
    second = start(config)
    done = wait_until(lambda: completions(fake).get("job_a"))
    second.stop()

    assert (done["exit_code"], done["summary"]) == (1, "refused: replayed")
    assert not fake.calls_to("/register")  # the identity was kept, not enrolled again


def test_a_restarted_agent_reports_the_attempt_it_was_killed_in_and_settles_it(fake: FakeControlPlane,
                                                                              node_uri: str, tmp_path: Path) -> None:
    """What an agent killed mid-job leaves behind: the attempt journaled with its claim token, never settled."""
    config = config_for(fake, tmp_path / "state", node_uri)
    first = start(config)
    wait_until(lambda: len(fake.calls_to("/heartbeat")) >= 1)
    first.stop()
    Journal.in_state_dir(config.state_dir).record("job_k", 2, "claim-k")
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")

    agent = start(config)
    wait_until(lambda: "job_a" in completions(fake))
    agent.stop()

    # Each process names itself in all its tokens, so the API can tell a dead one's waiting poll from its own.
    instances = [process_named(call) for call in fake.calls if call.path.startswith("/agent/v1/")
                 and call.path != "/agent/v1/register"]
    assert None not in instances and len(set(instances)) == 2
    restarted_from = instances.index(instances[-1])
    assert set(instances[restarted_from:]) == {instances[-1]} and instances[0] != instances[-1]
    reported = completions(fake)["job_k"]
    assert (reported["claim_token"], reported["exit_code"], reported["outputs"]) == ("claim-k", 2, [])
    assert reported["summary"].startswith("agent_restarted: ")
    journal = Journal.in_state_dir(config.state_dir)
    assert journal.interrupted() == []  # settled: the next restart reports nothing again
    assert journal.has_started("job_k", 2) and journal.has_started("job_a", 1)  # and both still refuse a replay


def test_a_lost_claim_is_not_run(fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    fake.stale = True
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    wait_until(lambda: fake.calls_to("/job_a/lease"))
    time.sleep(0.1)
    states = {vm["name"]: vm["state"] for vm in agent.runner.host.inventory()}
    agent.stop()

    assert states["web1"] == "running"
    assert not fake.calls_to("/job_a/complete")


# -- claims the control plane got wrong ------------------------------------------------------------

def queue_raw(fake: FakeControlPlane, claimed: dict[str, Any]) -> None:
    """Queue a claim exactly as given, however malformed."""
    with fake.lock:
        fake.queued.append(claimed)


def test_a_claim_without_a_claim_token_is_ignored_and_its_slot_freed(fake: FakeControlPlane, node_uri: str,
                                                                     tmp_path: Path) -> None:
    bad = fake.queue_job("vm.suspend", WEB1, job_id="job_x")
    with fake.lock:
        fake.queued.remove(bad)
    queue_raw(fake, {**bad, "claim_token": None})
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(dataclasses.replace(config_for(fake, tmp_path / "state", node_uri), max_jobs=1))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    assert done["exit_code"] == 0
    assert not [call for call in fake.calls if "/job_x/" in call.path]
    assert Journal(tmp_path / "state" / "journal.jsonl").entries() == [("job_a", 1)]


def test_a_claim_with_a_malformed_envelope_is_refused_and_reported_to_its_job_id(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    queue_raw(fake, {"job_id": "job_m", "envelope": {"v": 1}, "claim_token": "ct-job_m-1"})
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: completions(fake).get("job_m"))
    agent.stop()

    assert done == {"claim_token": "ct-job_m-1", "exit_code": 1, "summary": "refused: malformed", "outputs": [],
                    "vm": None}
    assert not fake.calls_to("/job_m/lease")


def test_a_claim_naming_no_job_is_refused_silently_and_the_next_one_runs(fake: FakeControlPlane, node_uri: str,
                                                                        tmp_path: Path) -> None:
    queue_raw(fake, {"envelope": "nope", "claim_token": "ct-nowhere-1"})
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(dataclasses.replace(config_for(fake, tmp_path / "state", node_uri), max_jobs=1))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    assert done["exit_code"] == 0 and list(completions(fake)) == ["job_a"]


def test_with_libvirt_down_jobs_fail_as_transient(fake: FakeControlPlane, tmp_path: Path) -> None:
    fake.queue_job("vm.start", DB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", f"test://{tmp_path}/missing.xml"))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    assert (done["exit_code"], done["vm"]) == (2, None)
    assert done["summary"].startswith("hypervisor_unavailable: ")
    beat = fake.calls_to("/heartbeat")[0].json()
    assert beat["capabilities"]["hypervisor_available"] is False and beat["vms"] == []
    assert beat["capabilities"]["hypervisor_error"] == "hypervisor_unavailable"
    assert beat["capabilities"]["hypervisor_message"].startswith(f"Cannot connect to libvirt at test://{tmp_path}")


def test_a_revoked_agent_stops_and_says_why(fake: FakeControlPlane, node_uri: str, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    config = config_for(fake, tmp_path / "state", node_uri)
    fake.revoked = True  # register still works; every authenticated call is refused

    code = run_agent(config, install_signals=False)

    assert code == EXIT_UNAUTHORIZED
    assert "deregistered by its owner (agent_revoked)" in caplog.text


def test_a_host_deregistered_while_running_stops_with_exit_3(fake: FakeControlPlane, node_uri: str,
                                                             tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    wait_until(lambda: fake.calls_to("/poll"))

    fake.revoked = True
    agent.thread.join(timeout=10)

    assert agent.exit_codes == [EXIT_UNAUTHORIZED]
    assert "this host was deregistered by its owner (agent_revoked)" in caplog.text
    agent.runner.host.close()


def test_without_enrolment_or_token_the_agent_exits_with_a_clear_message(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)

    code = run_agent(config_for(fake, tmp_path / "state", node_uri, token=None), install_signals=False)

    assert code == EXIT_CONFIG
    assert "not enrolled: set FLEETVISOR_ENROLLMENT_TOKEN" in caplog.text
    assert not fake.calls


def test_a_refused_enrolment_token_exits_with_the_reason(fake: FakeControlPlane, node_uri: str, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    code = run_agent(config_for(fake, tmp_path / "state", node_uri, token="fvet_wrong"), install_signals=False)

    assert code == EXIT_CONFIG
    assert "The enrolment token is unknown. (enrollment_refused)" in caplog.text
    assert "fvet_wrong" not in caplog.text


def test_two_agents_cannot_share_a_state_dir(fake: FakeControlPlane, node_uri: str, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    config = config_for(fake, tmp_path / "state", node_uri)
    stop = threading.Event()
    first = threading.Thread(target=run_agent, args=(config,), kwargs={"stop": stop, "install_signals": False})
    first.start()
    wait_until(lambda: fake.calls_to("/poll"))

    code = run_agent(config, install_signals=False)
    stop.set()
    first.join(timeout=10)

    assert code == EXIT_CONFIG
    assert "Another agent is already running with state dir" in caplog.text


def test_the_host_allow_list_refuses_other_operations(fake: FakeControlPlane, node_uri: str,
                                                      tmp_path: Path) -> None:
    config = dataclasses.replace(config_for(fake, tmp_path / "state", node_uri),
                                 allowed_ops=frozenset({"vm.start"}))
    fake.queue_job("vm.force_stop", WEB1, job_id="job_a")
    agent = start(config)

    done = wait_until(lambda: completions(fake).get("job_a"))
    states = {vm["name"]: vm["state"] for vm in agent.runner.host.inventory()}
    agent.stop()

    assert (done["exit_code"], done["summary"]) == (1, "refused: op_not_allowed")
    assert states["web1"] == "running"


def test_a_job_with_arguments_uploads_what_it_read(fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    fake.queue_job("vm.snapshot_create", WEB1, job_id="job_a", args={"name": "s1", "description": "<first>"})
    fake.queue_job("vm.snapshot_create", WEB1, job_id="job_b", args={"name": "bad name"})
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    wait_until(lambda: "job_a" in completions(fake) and "job_b" in completions(fake))
    fake.queue_job("vm.snapshot_list", WEB1, job_id="job_c")

    done = wait_until(lambda: completions(fake).get("job_c"))
    agent.stop()

    assert done["exit_code"] == 0 and completions(fake)["job_a"]["exit_code"] == 0
    assert completions(fake)["job_b"]["summary"] == "refused: bad_args"
    [snapshot] = json.loads(fake.uploads["/upload/job_c/1"])["data"]["snapshots"]
    assert (snapshot["name"], snapshot["description"], snapshot["state"]) == ("s1", "<first>", "running")


def most_running_at_once(fake: FakeControlPlane) -> int:
    """The most jobs the control plane saw running together: marked running (first lease) and not yet completed."""
    with fake.lock:
        calls = list(fake.calls)
    running, most = 0, 0
    for call in calls:
        if call.path.endswith("/lease") and call.json()["running"]:
            running += 1
        elif call.path.endswith("/complete"):
            running -= 1
        most = max(most, running)
    return most


def test_no_more_than_max_jobs_run_at_once_and_every_job_finishes(fake: FakeControlPlane, stubborn_uri: str,
                                                                   tmp_path: Path) -> None:
    # Each shutdown of stubborn1 waits its whole time limit (0.3 s here), so the jobs overlap unless held back.
    job_ids = [f"job_{n}" for n in range(5)]
    for job_id in job_ids:
        fake.queue_job("vm.shutdown", STUBBORN1, job_id=job_id, args={"timeout_seconds": 60})
    config = dataclasses.replace(config_for(fake, tmp_path / "state", stubborn_uri), max_jobs=2,
                                 op_timeouts={"vm.shutdown": 0.3})
    agent = start(config)

    done = wait_until(lambda: len(completions(fake)) == 5 and completions(fake))
    assert agent.stop() == EXIT_OK

    assert sorted(done) == job_ids and {report["exit_code"] for report in done.values()} == {124}
    assert most_running_at_once(fake) == 2
    assert max(call.json()["max_jobs"] for call in fake.calls_to("/poll")) == 2


# -- cancellation ----------------------------------------------------------------------------------

CANCELLED_STUBBORN1 = {"exit_code": 1, "summary": "cancelled by the operator", "outputs": [], "cancelled": True}


def wait_for_renewal(fake: FakeControlPlane, job_id: str) -> None:
    """The job runs (its handler waits) once the lease keeper has renewed its lease."""
    wait_until(lambda: any(not call.json()["running"] for call in fake.calls_to(f"/{job_id}/lease")))


def test_a_cancel_in_a_lease_answer_ends_the_wait_and_completes_the_job_as_cancelled(
        fake: FakeControlPlane, stubborn_uri: str, tmp_path: Path) -> None:
    fake.queue_job("vm.shutdown", STUBBORN1, job_id="job_a", args={"timeout_seconds": 60})
    agent = start(config_for(fake, tmp_path / "state", stubborn_uri), lease_renew_seconds=0.05)
    wait_for_renewal(fake, "job_a")

    fake.lease_cancel = True
    cancelled_at = time.monotonic()
    done = wait_until(lambda: completions(fake).get("job_a"))
    reported_in = time.monotonic() - cancelled_at
    assert agent.stop() == EXIT_OK  # the handler's 60 s wait is over too, or the agent could not stop

    assert reported_in < 5
    assert {k: done[k] for k in CANCELLED_STUBBORN1} == CANCELLED_STUBBORN1
    assert (done["vm"]["uuid"], done["vm"]["state"]) == (STUBBORN1, "running")  # not forced off
    assert not fake.uploads


def test_an_operation_past_its_time_limit_is_reported_timed_out_and_forces_nothing(
        fake: FakeControlPlane, stubborn_uri: str, tmp_path: Path) -> None:
    # stubborn1 ignores the ACPI request for real (the test driver restarts it), so the shutdown waits its whole
    # 60 s; this host allows vm.shutdown 0.5 s, whatever the job asks.
    fake.queue_job("vm.shutdown", STUBBORN1, job_id="job_a", args={"timeout_seconds": 60})
    config = dataclasses.replace(config_for(fake, tmp_path / "state", stubborn_uri),
                                 op_timeouts={"vm.shutdown": 0.5})
    agent = start(config)
    started = time.monotonic()
    done = wait_until(lambda: completions(fake).get("job_a"))
    reported_in = time.monotonic() - started
    vm_after = agent.runner.host.guest(STUBBORN1).inventory_entry()
    assert agent.stop() == EXIT_OK  # the handler stopped waiting too, or the agent could not stop

    assert 0.5 <= reported_in < 5
    assert vm_after["state"] == "running"  # not forced off
    assert (done["exit_code"], done["outputs"], done["vm"]) == (124, ["result"], None)
    assert done["summary"] == "timed_out: vm.shutdown did not finish within 0.5 s; the agent stopped waiting for it."
    result = json.loads(fake.uploads["/upload/job_a/1"])
    assert (result["ok"], result["error"]["code"]) == (False, "operation_timeout")


def test_a_cancel_in_a_heartbeat_answer_completes_the_job_as_cancelled(
        fake: FakeControlPlane, stubborn_uri: str, tmp_path: Path) -> None:
    fake.queue_job("vm.shutdown", STUBBORN1, job_id="job_a", args={"timeout_seconds": 60})
    agent = start(config_for(fake, tmp_path / "state", stubborn_uri))
    wait_until(lambda: agent.runner.running_job_ids() == ["job_a"])

    fake.heartbeat_cancel = ["job_a"]
    agent.runner.heartbeat.soon()
    done = wait_until(lambda: completions(fake).get("job_a"))
    assert agent.stop() == EXIT_OK

    assert {k: done[k] for k in CANCELLED_STUBBORN1} == CANCELLED_STUBBORN1
    assert done["vm"]["state"] == "running"
    assert [call.json()["running"] for call in fake.calls_to("/job_a/lease")] == [True]  # no renewal told it


def test_a_cancel_in_a_poll_answer_completes_the_job_as_cancelled(
        fake: FakeControlPlane, stubborn_uri: str, tmp_path: Path) -> None:
    fake.queue_job("vm.shutdown", STUBBORN1, job_id="job_a", args={"timeout_seconds": 60})
    agent = start(config_for(fake, tmp_path / "state", stubborn_uri))
    wait_until(lambda: agent.runner.running_job_ids() == ["job_a"])

    fake.poll_cancel = ["job_a"]
    done = wait_until(lambda: completions(fake).get("job_a"))
    assert agent.stop() == EXIT_OK

    assert {k: done[k] for k in CANCELLED_STUBBORN1} == CANCELLED_STUBBORN1
    assert done["vm"]["state"] == "running"


def test_a_job_cancelled_before_it_started_does_not_run(fake: FakeControlPlane, node_uri: str,
                                                         tmp_path: Path) -> None:
    fake.lease_cancel = True
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: completions(fake).get("job_a"))
    states = {vm["name"]: vm["state"] for vm in agent.runner.host.inventory()}
    agent.stop()

    assert {k: done[k] for k in CANCELLED_STUBBORN1} == CANCELLED_STUBBORN1
    assert done["vm"]["state"] == "running" and states["web1"] == "running"


# -- waiting for the owner's approval ----------------------------------------------------------------

def test_a_host_waiting_for_approval_registers_again_with_the_same_key_then_works(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake.pending_registrations = 2
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    registrations = [call.json() for call in fake.calls_to("/register")]
    assert len(registrations) == 3
    assert len({(r["public_key"], r["token"]) for r in registrations}) == 1
    first_authenticated = next(i for i, call in enumerate(fake.calls) if call.path != "/agent/v1/register")
    assert first_authenticated > max(i for i, call in enumerate(fake.calls) if call.path == "/agent/v1/register")
    assert f"this host waits for its owner's approval agent_id={AGENT_ID} name=hv1" in caplog.text
    assert done["exit_code"] == 0
    state = load_state(tmp_path / "state")
    assert state is not None and state.agent_id == AGENT_ID and state.enrollment_token is None
    assert state.public_key == registrations[0]["public_key"]


def test_an_enrolled_host_pending_approval_waits_instead_of_exiting(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake.pending_approval = True
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    # Each try asks where to wait (its own queue) or polls the API: either is refused while pending.
    wait_until(lambda: len(fake.calls_to("/poll")) + len(fake.calls_to("/doorbell")) >= 3)
    wait_until(lambda: len(fake.calls_to("/heartbeat")) >= 2)  # with a 5 s interval: the approval backoff's pace
    assert agent.thread.is_alive()

    fake.pending_approval = False
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    done = wait_until(lambda: completions(fake).get("job_a"))

    assert agent.stop() == EXIT_OK
    assert done["exit_code"] == 0
    assert f"this host waits for its owner's approval agent_id={AGENT_ID}" in caplog.text


def test_an_agent_stopped_while_waiting_for_approval_exits_cleanly(fake: FakeControlPlane, node_uri: str,
                                                                   tmp_path: Path) -> None:
    fake.pending_registrations = 1000
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    wait_until(lambda: len(fake.calls_to("/register")) >= 2)

    assert agent.stop() == EXIT_OK
    state = load_state(tmp_path / "state")
    assert state is not None and not state.enrolled and state.enrollment_token == "fvet_good"


# -- result uploads ----------------------------------------------------------------------------------

def test_an_upload_refused_as_expired_is_retried_with_fresh_urls(fake: FakeControlPlane, node_uri: str,
                                                                 tmp_path: Path) -> None:
    fake.upload_refusals = 1
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    [renewal] = fake.calls_to("/job_a/uploads")
    assert renewal.json() == {"claim_token": "ct-job_a-1"}
    assert [call.query for call in fake.calls_to("/upload/job_a/1")] == [{}, {"fresh": ["1"]}]
    assert (done["exit_code"], done["outputs"]) == (0, ["result"])
    assert json.loads(fake.uploads["/upload/job_a/1"])["job_id"] == "job_a"


def test_an_upload_url_past_its_expiry_is_renewed_before_the_put(fake: FakeControlPlane, node_uri: str,
                                                                 tmp_path: Path) -> None:
    fake.queue_job("vm.suspend", WEB1, job_id="job_a", upload_expires_in=-1)
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    assert len(fake.calls_to("/job_a/uploads")) == 1
    assert [call.query for call in fake.calls_to("/upload/job_a/1")] == [{"fresh": ["1"]}]
    assert done["outputs"] == ["result"]


def test_uploads_refused_every_time_end_after_a_few_tries_and_the_job_is_still_reported(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    fake.upload_refusals = 100
    fake.queue_job("vm.suspend", WEB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", node_uri))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    assert len(fake.calls_to("/upload/job_a/1")) == 4 and len(fake.calls_to("/job_a/uploads")) == 3
    assert (done["exit_code"], done["outputs"]) == (0, [])


def test_a_console_on_a_driver_without_consoles_detaches_with_the_reason(fake: FakeControlPlane, node_uri: str,
                                                                         tmp_path: Path) -> None:
    console_id = "0123456789abcdef0123456789abcdef"
    fake.queue_job("console.attach", WEB1, job_id="job_console", args={"console_id": console_id})
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    done = wait_until(lambda: completions(fake).get("job_console"))
    assert agent.stop() == EXIT_OK
    # libvirt's test driver has no consoles: the session is told why at once, and nothing is retried.
    assert done["exit_code"] == 1
    assert done["summary"].startswith("console closed: error: ")
    assert "operation_unsupported" in json.loads(fake.uploads["/upload/job_console/1"])["error"]["code"]
    [detach] = fake.calls_to(f"/consoles/{console_id}/output")
    assert detach.json() == {"claim_token": "ct-job_console-1", "chunks": [], "detached": "error"}


def test_a_console_closed_before_the_agent_came_ends_without_touching_the_vm(fake: FakeControlPlane,
                                                                             node_uri: str, tmp_path: Path) -> None:
    console_id = "fedcba9876543210fedcba9876543210"
    fake.console_status = "closing"
    fake.queue_job("console.attach", WEB1, job_id="job_late", args={"console_id": console_id})
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    done = wait_until(lambda: completions(fake).get("job_late"))
    assert agent.stop() == EXIT_OK
    assert (done["exit_code"], done["summary"]) == (0, "console closed: requested")
    assert fake.calls_to(f"/consoles/{console_id}/output")[0].json()["detached"] == "requested"


# -- signing-key rotation --------------------------------------------------------------------------

NEW_KID = "cp-2"


def heartbeat_answered(fake: FakeControlPlane, agent: RunningAgent) -> None:
    """Ask for a heartbeat now and wait until the agent has it (and its answer) behind it."""
    seen = len(fake.calls_to("/heartbeat"))
    for more in (1, 2):  # the heartbeat thread sends the second only once it has handled the first's answer
        agent.runner.heartbeat.soon()
        wait_until(lambda more=more: len(fake.calls_to("/heartbeat")) >= seen + more)


def test_a_key_rotation_mid_job_keeps_old_and_new_jobs_running_until_the_old_key_is_retired(
        fake: FakeControlPlane, stubborn_uri: str, tmp_path: Path) -> None:
    new_key = Ed25519PrivateKey.generate()
    agent = start(config_for(fake, tmp_path / "state", stubborn_uri))
    # A job signed by the old key is running (its shutdown waits) while the new key is announced.
    fake.queue_job("vm.shutdown", STUBBORN1, job_id="job_old", args={"timeout_seconds": 2})
    wait_until(lambda: agent.runner.running_job_ids() == ["job_old"])
    fake.keyring, fake.keys_serial = {KID: fake.signing_key, NEW_KID: new_key}, 2
    heartbeat_answered(fake, agent)
    assert set(agent.runner.state.signing_keys) == {KID, NEW_KID}
    fake.queue_job("vm.detail", STUBBORN1, job_id="job_new", kid=NEW_KID, key=new_key)
    wait_until(lambda: {"job_old", "job_new"} <= set(completions(fake)), timeout=15)
    # The old key retires: a job signed by it now is refused, and nothing runs.
    fake.keyring, fake.keys_serial = {NEW_KID: new_key}, 3
    heartbeat_answered(fake, agent)
    fake.queue_job("vm.detail", STUBBORN1, job_id="job_retired")
    wait_until(lambda: "job_retired" in completions(fake))
    assert agent.stop() == EXIT_OK

    done = completions(fake)
    assert (done["job_old"]["exit_code"], done["job_new"]["exit_code"]) == (0, 0)
    assert (done["job_retired"]["exit_code"], done["job_retired"]["summary"]) == (1, "refused: unknown_kid")
    state = load_state(tmp_path / "state")
    assert state is not None and (set(state.signing_keys), state.signing_keys_serial) == ({NEW_KID}, 3)


def test_an_announcement_no_pinned_key_signed_changes_nothing(fake: FakeControlPlane, node_uri: str,
                                                              tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rogue = Ed25519PrivateKey.generate()
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    wait_until(lambda: fake.calls_to("/heartbeat"))
    rogue_keys = [{"kid": "rogue", "public_key": b64url_encode(rogue.public_key().public_bytes_raw())}]
    fake.announcement = announce(7, rogue_keys, {"rogue": rogue})
    with caplog.at_level(logging.WARNING, logger="fleetvisor_agent.runner"):
        heartbeat_answered(fake, agent)
        heartbeat_answered(fake, agent)
    fake.queue_job("vm.detail", WEB1, job_id="job_rogue", kid="rogue", key=rogue)
    wait_until(lambda: "job_rogue" in completions(fake))
    assert agent.stop() == EXIT_OK

    assert (set(agent.runner.state.signing_keys), agent.runner.state.signing_keys_serial) == ({KID}, 1)
    assert completions(fake)["job_rogue"]["summary"] == "refused: unknown_kid"
    refusals = [r.message for r in caplog.records if "announcement refused" in r.message]
    assert len(refusals) == 1 and "reason=unknown_kid" in refusals[0]  # said once, not at every heartbeat


def test_an_old_announcement_replayed_cannot_bring_a_retired_key_back(fake: FakeControlPlane, node_uri: str,
                                                                      tmp_path: Path) -> None:
    new_key = Ed25519PrivateKey.generate()
    fake.keyring, fake.keys_serial = {KID: fake.signing_key, NEW_KID: new_key}, 2
    old_announcement = fake.key_announcement()
    fake.keyring, fake.keys_serial = {NEW_KID: new_key}, 3
    agent = start(config_for(fake, tmp_path / "state", node_uri))
    wait_until(lambda: fake.calls_to("/heartbeat"))
    fake.announcement = old_announcement  # signed by the new key too, but older
    heartbeat_answered(fake, agent)
    assert agent.stop() == EXIT_OK

    assert (set(agent.runner.state.signing_keys), agent.runner.state.signing_keys_serial) == ({NEW_KID}, 3)
