"""The dev stage as `make package` writes it, once per run, into a temporary dist/ (never the
developer's own dist/dev)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infra import deploy


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    started = time.monotonic()
    out = deploy.package(deploy.load_stage("dev"), tmp_path_factory.mktemp("dist") / "dev")
    print(f"\nmake package: {time.monotonic() - started:.1f} s")
    return out
