"""One Chromium per module; a fresh browser context (cookies, storage) per test; and for the pages of
real VMs, a QEMU guest per module and a stack serving the built web app with an agent on libvirtd."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page

from infra.local import REPO, LocalStack, StackConfig, free_port
from tests.conftest import ADMIN_PASSWORD
from tests.hypervisor.guest import URI, QemuGuest, define_guest, prepare

from .browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def guest() -> Iterator[QemuGuest]:
    made = define_guest(prepare())
    yield made
    made.remove()


@contextmanager
def qemu_spa_stack(tmp_path_factory: pytest.TempPathFactory, agent_name: str,
                   agent_env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """The stack serving the built web app, its agent on the real libvirtd, enrolled."""
    spa = REPO / "frontend" / "dist"
    assert (spa / "index.html").exists(), "build the web app first (scripts/setup.sh does)"
    config = StackConfig(root=tmp_path_factory.mktemp(agent_name), api_port=free_port(), spa_dir=spa,
                         admin_password=ADMIN_PASSWORD, agent_name=agent_name, libvirt_uri=URI,
                         agent_env=agent_env or {})
    with LocalStack(config) as stack:
        stack.wait_for_agents(1)
        yield stack
