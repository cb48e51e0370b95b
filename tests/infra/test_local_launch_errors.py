"""`make up` where it cannot run says why in one sentence (issue 17, #11): a second launcher on a data
directory in use, and one on an API port another stack holds (it used to log into that stack and die
with "401 Unauthorized"). Neither starts anything nor disturbs the running stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.local import REPO, LocalStack, StackConfig, free_port


def _make_up(home: Path, port: int) -> subprocess.CompletedProcess[str]:
    """`python -m infra.local` as `make up` runs it, for one data directory and port."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLEETVISOR_"))},
           "FLEETVISOR_HOME": str(home), "FLEETVISOR_PORT": str(port)}
    return subprocess.run([sys.executable, "-m", "infra.local"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _one_sentence(run: subprocess.CompletedProcess[str]) -> str:
    said = (run.stdout + run.stderr).strip()
    assert run.returncode == 1, said
    assert "Traceback" not in said and len(said.splitlines()) == 1, said
    return said


def test_a_second_launcher_on_a_used_directory_or_port_says_why_and_leaves_the_first_alone(
        tmp_path: Path) -> None:
    config = StackConfig(root=tmp_path / "first", api_port=free_port(), spa_dir=None, start_agent=False)
    with LocalStack(config) as first:
        same_home = _one_sentence(_make_up(first.root, free_port()))
        assert same_home == (f"fleetvisor: Another Fleetvisor stack is already running on {first.root}: stop it "
                             "(Ctrl-C where it runs) or give this one its own FLEETVISOR_HOME.")

        same_port = _one_sentence(_make_up(tmp_path / "second", first.config.api_port))
        port = first.config.api_port
        assert same_port == (f"fleetvisor: Port {port} is already in use (another Fleetvisor stack, or another "
                             f"program): stop it, or start this one on another port, e.g. "
                             f"FLEETVISOR_PORT={port + 1} make up.")
        assert not (tmp_path / "second" / "logs" / "dynalite.log").exists()  # nothing was started

        assert first.login()  # the running stack is untouched
        assert all(child.proc.poll() is None for child in first.children.values())
