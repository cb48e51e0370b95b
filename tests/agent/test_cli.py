"""The command line: `enroll` enrols and exits, `deregister` leaves the fleet, `run` explains what is missing."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.cli import LineFormatter, main
from fleetvisor_agent.config import resolve_config
from fleetvisor_agent.enrollment import EXIT_CONFIG, prepare_state
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.runner import Runner
from fleetvisor_agent.state import load_state

from tests.conftest import wait_until

from .fake_control_plane import AGENT_ID, FakeControlPlane, running


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("FLEETVISOR_URL", "FLEETVISOR_ENROLLMENT_TOKEN", "FLEETVISOR_AGENT_NAME", "FLEETVISOR_ENVIRONMENT",
                "FLEETVISOR_AGENT_STATE_DIR", "FLEETVISOR_LIBVIRT_URI"):
        monkeypatch.delenv(key, raising=False)
    # Nor the machine's own agent settings (/etc/fleetvisor/agent.env, if an agent is installed here).
    monkeypatch.setenv("FLEETVISOR_AGENT_CONFIG", os.devnull)


@pytest.fixture
def fake(vector_key: Ed25519PrivateKey) -> Iterator[FakeControlPlane]:
    with running(FakeControlPlane(signing_key=vector_key)) as started:
        yield started


def test_enroll_writes_the_identity_and_exits(fake: FakeControlPlane, node_uri: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(tmp_path / "s"),
                 "--name", "hv1", "--environment", "lab", "--libvirt-uri", node_uri])

    assert code == 0
    state = load_state(tmp_path / "s")
    assert state is not None and state.agent_id == AGENT_ID
    assert fake.calls_to("/register")[0].json()["environment"] == "lab"
    out = capsys.readouterr().out
    assert f"enrolled as {AGENT_ID}" in out and "fvet_good" not in out


def test_enroll_again_reuses_the_key(fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    args = ["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(tmp_path / "s"),
            "--name", "hv1", "--libvirt-uri", node_uri]

    assert main(args) == 0 and main(args) == 0

    first, second = (call.json()["public_key"] for call in fake.calls_to("/register"))
    assert first == second


def test_enroll_without_a_token_says_what_is_needed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["enroll", "--url", "http://127.0.0.1:9", "--state-dir", str(tmp_path / "s")])

    assert code == EXIT_CONFIG
    assert "enroll needs --url and --token" in capsys.readouterr().out


def test_run_without_url_or_enrolment_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--state-dir", str(tmp_path / "s")])

    assert code == EXIT_CONFIG
    assert "Not enrolled and no control-plane URL" in capsys.readouterr().out


def test_a_bad_setting_is_reported_before_anything_starts(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--url", "ftp://nope", "--state-dir", str(tmp_path / "s")])

    assert code == EXIT_CONFIG
    assert "must start with https://" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_sigterm_stops_the_agent_cleanly(fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    env = {**os.environ, "FLEETVISOR_AGENT_POLL_WAIT": "1", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "fleetvisor_agent.cli", "run", "--url", fake.url, "--token", "fvet_good",
            "--state-dir", str(tmp_path / "s"), "--name", "hv1", "--libvirt-uri", node_uri]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as agent:
        deadline = time.monotonic() + 20
        while not fake.calls_to("/poll") and time.monotonic() < deadline:
            time.sleep(0.02)
        agent.send_signal(signal.SIGTERM)
        output, _ = agent.communicate(timeout=10)

    assert agent.returncode == 0, output
    assert "SIGTERM received: finishing running jobs, then stopping" in output
    assert "agent stopped exit_code=0" in output
    assert "fvet_good" not in output


def test_enroll_takes_its_settings_from_the_config_file(fake: FakeControlPlane, node_uri: str,
                                                        tmp_path: Path) -> None:
    settings = tmp_path / "agent.env"
    settings.write_text(f"# as the install script writes it, plus a quoted name\nFLEETVISOR_URL={fake.url}\n"
                        f"FLEETVISOR_LIBVIRT_URI={node_uri}\nFLEETVISOR_AGENT_NAME=\"from-file\"\n"
                        "FLEETVISOR_ENROLLMENT_TOKEN=fvet_good\n")

    code = main(["enroll", "--config", str(settings), "--state-dir", str(tmp_path / "s")])

    assert code == 0
    assert fake.calls_to("/register")[0].json()["name"] == "from-file"
    state = load_state(tmp_path / "s")
    assert state is not None and state.url == fake.url


def test_a_config_file_that_is_not_there_stops_the_agent_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--config", str(tmp_path / "agent.env"), "--state-dir", str(tmp_path / "s")])

    assert code == EXIT_CONFIG
    assert f"Config file {tmp_path / 'agent.env'} (--config or FLEETVISOR_AGENT_CONFIG) does not exist" in (
        capsys.readouterr().err)
    assert not (tmp_path / "s").exists()


LINE = re.compile(r"(?P<priority><[0-7]>)?(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )?"
                  r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: \S")


@pytest.mark.parametrize("journal", [True, False])
def test_each_log_record_is_one_line_with_what_journald_wants(fake: FakeControlPlane, node_uri: str,
                                                              tmp_path: Path, journal: bool) -> None:
    read_end, write_end = os.pipe()
    stdout = os.fstat(write_end)
    env = {**os.environ, "FLEETVISOR_AGENT_POLL_WAIT": "1", "PYTHONUNBUFFERED": "1",
           # What systemd sets when stdout is the journal: that stream's device and inode.
           "JOURNAL_STREAM": f"{stdout.st_dev}:{stdout.st_ino}" if journal else ""}
    argv = [sys.executable, "-m", "fleetvisor_agent.cli", "run", "--url", fake.url, "--token", "fvet_good",
            "--state-dir", str(tmp_path / "s"), "--name", "hv1", "--libvirt-uri", node_uri]
    with subprocess.Popen(argv, env=env, stdout=write_end, stderr=subprocess.STDOUT) as agent:
        os.close(write_end)
        wait_until(lambda: fake.calls_to("/poll"))
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)
    with os.fdopen(read_end) as output:
        lines = output.read().splitlines()

    assert len(lines) >= 3 and all(LINE.match(line) for line in lines), lines
    matched = [LINE.match(line) for line in lines]
    assert all(bool(m and m["priority"]) is journal and bool(m and m["time"]) is not journal for m in matched)
    if journal:
        assert "<6>INFO fleetvisor_agent.runner: agent stopped exit_code=0" in lines


@pytest.mark.parametrize(("journald", "start"), [(True, "<3>ERROR fleetvisor_agent.x: "), (False, "")])
def test_a_traceback_or_a_newline_stays_on_the_records_line(journald: bool, start: str) -> None:
    try:
        raise ValueError("libvirt said:\nline two")
    except ValueError:
        record = logging.LogRecord("fleetvisor_agent.x", logging.ERROR, __file__, 1, "failed\r\nagain", None,
                                   sys.exc_info())

    line = LineFormatter(journald=journald).format(record)

    assert "\n" not in line and "\r" not in line
    assert line.startswith(start) and "failed\\r\\nagain\\nTraceback" in line
    assert line.endswith("ValueError: libvirt said:\\nline two")


def test_enroll_while_approval_is_pending_exits_0_and_run_carries_on_with_the_same_key(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake.pending_registrations = 1

    code = main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(tmp_path / "s"),
                 "--name", "hv1", "--libvirt-uri", node_uri])

    assert code == 0
    assert "pending: the host's owner must approve it" in capsys.readouterr().out
    state = load_state(tmp_path / "s")
    assert state is not None and not state.enrolled
    config = resolve_config(url=None, token=None, libvirt_uri=node_uri, state_dir=tmp_path / "s", name="hv1",
                            poll_wait=1, env={}, hostname="hv1", default_config_file=None)
    runner = Runner(config, prepare_state(config), Host(node_uri), approval_backoff_base=0.05)
    agent = threading.Thread(target=runner.run, daemon=True)
    agent.start()
    wait_until(lambda: fake.calls_to("/poll"))
    runner.request_stop()
    agent.join(timeout=10)
    runner.host.close()
    first, second = (call.json() for call in fake.calls_to("/register"))
    assert (second["token"], second["public_key"]) == ("fvet_good", first["public_key"])


def test_deregister_tells_the_control_plane_and_forgets_the_identity(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "s"
    assert main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(state_dir),
                 "--name", "hv1", "--libvirt-uri", node_uri]) == 0
    enrolled = load_state(state_dir)
    assert enrolled is not None

    code = main(["deregister", "--state-dir", str(state_dir)])

    assert code == 0
    [call] = fake.calls_to("/deregister")
    assert call.json() == {} and call.headers["Authorization"].startswith("Bearer ")
    assert fake.revoked  # the fake accepted the agent's token, then revoked it
    state = load_state(state_dir)
    assert state is not None and state.agent_id is None and state.signing_keys == {}
    assert state.public_key != enrolled.public_key and state.url == fake.url
    out = capsys.readouterr().out
    assert f"Deregistered {AGENT_ID} (hv1) from {fake.url}" in out


def test_deregister_of_a_host_the_control_plane_already_revoked_still_forgets_it(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path) -> None:
    state_dir = tmp_path / "s"
    main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(state_dir), "--name", "hv1",
          "--libvirt-uri", node_uri])
    fake.revoked = True

    assert main(["deregister", "--state-dir", str(state_dir)]) == 0

    state = load_state(state_dir)
    assert state is not None and not state.enrolled


def test_deregister_that_the_control_plane_refuses_changes_nothing(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "s"
    main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(state_dir), "--name", "hv1",
          "--libvirt-uri", node_uri])
    fake.fail_next = [404]
    before = (state_dir / "state.json").read_bytes()

    code = main(["deregister", "--state-dir", str(state_dir)])

    assert code == EXIT_CONFIG
    out = capsys.readouterr().out
    assert f"Deregistration with {fake.url} failed" in out and "nothing was changed" in out
    assert (state_dir / "state.json").read_bytes() == before


def test_deregister_without_an_identity_has_nothing_to_do(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deregister", "--state-dir", str(tmp_path / "s")]) == 0
    assert "nothing to deregister" in capsys.readouterr().out


def test_run_after_deregister_cannot_act_again(fake: FakeControlPlane, node_uri: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "s"
    main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(state_dir), "--name", "hv1",
          "--libvirt-uri", node_uri])
    main(["deregister", "--state-dir", str(state_dir)])

    code = main(["run", "--state-dir", str(state_dir), "--libvirt-uri", node_uri])

    assert code == EXIT_CONFIG
    assert "This host is not enrolled" in capsys.readouterr().out
    assert not fake.calls_to("/poll") and not fake.calls_to("/heartbeat")


def _status(state_dir: Path, pid: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["status", "--state-dir", str(state_dir), "--pid", str(pid), "--wait", "20"])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("reachable", [True, False])
def test_status_says_whether_the_running_process_reaches_libvirt_and_why_not(
        fake: FakeControlPlane, node_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        reachable: bool) -> None:
    state_dir = tmp_path / "s"
    assert main(["enroll", "--url", fake.url, "--token", "fvet_good", "--state-dir", str(state_dir),
                 "--name", "hv1", "--libvirt-uri", node_uri]) == 0
    capsys.readouterr()
    uri = node_uri if reachable else f"test://{tmp_path}/no-such-host.xml"
    argv = [sys.executable, "-m", "fleetvisor_agent.cli", "run", "--state-dir", str(state_dir), "--libvirt-uri", uri]
    env = {**os.environ, "FLEETVISOR_AGENT_POLL_WAIT": "1"}
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as agent:
        try:
            code, out = _status(state_dir, agent.pid, capsys)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
    if reachable:
        assert code == 0 and f"hypervisor: reachable at {uri} (pid {agent.pid})" in out
    else:
        assert code == 1 and f"hypervisor: UNAVAILABLE at {uri} (pid {agent.pid}): " in out
        assert "no-such-host.xml" in out, out  # libvirt's own words say what is wrong
    # What another process wrote is not this one's word.
    assert main(["status", "--state-dir", str(state_dir), "--pid", "1", "--wait", "0"]) == 2
    assert "no word from process 1" in capsys.readouterr().out
