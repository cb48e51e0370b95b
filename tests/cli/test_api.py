"""Which API the CLI talks to: --url, FLEETVISOR_URL, the running local stack, the default."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fleetvisor_cli.api import DEFAULT_URL, STACK_FILE, find_url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FLEETVISOR_URL", raising=False)
    monkeypatch.setenv("FLEETVISOR_HOME", str(tmp_path))
    return tmp_path


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_the_running_stack_is_found_and_explicit_urls_win(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / STACK_FILE).write_text(json.dumps({"url": "http://127.0.0.1:8123", "pid": os.getpid()}))
    assert find_url(None) == "http://127.0.0.1:8123"
    monkeypatch.setenv("FLEETVISOR_URL", "http://elsewhere:9000/")
    assert find_url(None) == "http://elsewhere:9000"
    assert find_url("https://fleet.example.com") == "https://fleet.example.com"


@pytest.mark.parametrize("content", ["not json", json.dumps({"url": 8123, "pid": 1}), json.dumps(["x"]), ""])
def test_a_file_that_says_nothing_usable_is_ignored(home: Path, content: str) -> None:
    (home / STACK_FILE).write_text(content)
    assert find_url(None) == DEFAULT_URL


def test_a_file_left_by_a_killed_stack_is_ignored(home: Path) -> None:
    (home / STACK_FILE).write_text(json.dumps({"url": "http://127.0.0.1:8123", "pid": _dead_pid()}))
    assert find_url(None) == DEFAULT_URL


def test_without_a_home_the_nearest_fleetvisor_folder_above_is_used(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETVISOR_URL", raising=False)
    monkeypatch.delenv("FLEETVISOR_HOME", raising=False)
    (tmp_path / ".fleetvisor").mkdir()
    (tmp_path / ".fleetvisor" / STACK_FILE).write_text(json.dumps({"url": "http://127.0.0.1:8777",
                                                                     "pid": os.getpid()}))
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert find_url(None) == "http://127.0.0.1:8777"
