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

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.config import Config, resolve_config
from fleetvisor_agent.enrollment import EXIT_CONFIG, prepare_state
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.journal import Journal
from fleetvisor_agent.runner import EXIT_OK, EXIT_UNAUTHORIZED, Runner, run_agent
from fleetvisor_agent.state import load_state

from .conftest import CACHE1, DB1, WEB1, wait_until
from .fake_control_plane import AGENT_ID, FakeControlPlane, running


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
        return self.exit_codes[0]


@pytest.fixture
def fake(vector_key: Ed25519PrivateKey) -> Iterator[FakeControlPlane]:
    with running(FakeControlPlane(signing_key=vector_key)) as started:
        yield started


def config_for(fake: FakeControlPlane, state_dir: Path, libvirt_uri: str, token: str | None = "fvet_good") -> Config:
    return resolve_config(url=fake.url, token=token, libvirt_uri=libvirt_uri, state_dir=state_dir, name="hv1",
                          poll_wait=1, heartbeat_seconds=5, env={}, hostname="hv1.example")


def start(config: Config) -> RunningAgent:
    runner = Runner(config, prepare_state(config), Host(config.libvirt_uri))
    runner.heartbeat.soon_seconds = 0.05
    exit_codes: list[int] = []
    thread = threading.Thread(target=lambda: exit_codes.append(runner.run()), daemon=True)
    thread.start()
    return RunningAgent(runner, thread, exit_codes)


def completions(fake: FakeControlPlane) -> dict[str, dict[str, Any]]:
    return {call.path.split("/")[4]: call.json() for call in fake.calls_to("/complete")}


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
                                    "vcpus": 2, "memory_kib": 1048576, "autostart": False, "persistent": True}}
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


def test_with_libvirt_down_jobs_fail_as_transient(fake: FakeControlPlane, tmp_path: Path) -> None:
    fake.queue_job("vm.start", DB1, job_id="job_a")
    agent = start(config_for(fake, tmp_path / "state", f"test://{tmp_path}/missing.xml"))

    done = wait_until(lambda: completions(fake).get("job_a"))
    agent.stop()

    assert (done["exit_code"], done["vm"]) == (2, None)
    assert done["summary"].startswith("hypervisor_unavailable: ")
    beat = fake.calls_to("/heartbeat")[0].json()
    assert beat["capabilities"]["hypervisor_available"] is False and beat["vms"] == []


def test_a_revoked_agent_stops_and_says_why(fake: FakeControlPlane, node_uri: str, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    config = config_for(fake, tmp_path / "state", node_uri)
    fake.revoked = True  # register still works; every authenticated call is refused

    code = run_agent(config, install_signals=False)

    assert code == EXIT_UNAUTHORIZED
    assert "deregistered by its owner (agent_revoked)" in caplog.text


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
