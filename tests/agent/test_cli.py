"""The command line: `enroll` enrols and exits, `run` explains what is missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.cli import main
from fleetvisor_agent.enrollment import EXIT_CONFIG
from fleetvisor_agent.state import load_state

from .fake_control_plane import AGENT_ID, FakeControlPlane, running


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("FLEETVISOR_URL", "FLEETVISOR_ENROLLMENT_TOKEN", "FLEETVISOR_AGENT_NAME", "FLEETVISOR_ENVIRONMENT",
                "FLEETVISOR_AGENT_STATE_DIR", "FLEETVISOR_LIBVIRT_URI"):
        monkeypatch.delenv(key, raising=False)


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
