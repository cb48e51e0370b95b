"""Fixtures shared by every suite.

`emulators`: one dynalite + one moto server for the whole run (free ports,
temporary directory), with this process's AWS endpoints pointed at them, so
in-process API tests (chalice.test.Client) run over real emulators.
`stack`: a whole local stack (API server, web app, agent) for e2e and browser
tests, which talk to it over HTTP only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local import REPO, LocalStack, StackConfig, free_port

ADMIN_PASSWORD = "e2e admin password 1"


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(StackConfig(root=tmp_path_factory.mktemp("emulators"), spa_dir=None,
                                   start_api=False, start_agent=False, admin_password=ADMIN_PASSWORD))
    stack.start()
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in stack.service_env().items() if k.startswith(("AWS_", "FLEETVISOR_"))})
    try:
        yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stack.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    spa = REPO / "frontend" / "dist"
    config = StackConfig(root=tmp_path_factory.mktemp("stack"), api_port=free_port(),
                         spa_dir=spa if (spa / "index.html").exists() else None,
                         admin_password=ADMIN_PASSWORD, agent_name="e2e-host")
    with LocalStack(config) as running:
        running.wait_for_agents(1, timeout=60)
        yield running


def read_logs(stack: LocalStack) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(Path(stack.root / "logs").glob("*.log")))


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy (and return that), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout} s")
