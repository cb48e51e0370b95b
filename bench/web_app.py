"""What the web app's benchmarks share: a local stack serving the built app (frontend/dist) with no agent,
Debian's Chromium launched as the browser tests launch it (tests/frontend/browser.py), and percentiles."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page

from infra.local import REPO, LocalStack, StackConfig, free_port
from tests.frontend.browser import chromium

PASSWORD = "bench admin password"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@contextmanager
def app_stack() -> Iterator[LocalStack]:
    """The control plane on its emulators, serving the built web app; no agent runs."""
    spa = REPO / "frontend" / "dist"
    if not (spa / "index.html").exists():
        raise SystemExit("frontend/dist is missing: run `make setup` (or npm run build in frontend/)")
    with tempfile.TemporaryDirectory() as tmp:
        config = StackConfig(root=Path(tmp), api_port=free_port(), spa_dir=spa, start_agent=False,
                             admin_password=PASSWORD)
        with LocalStack(config) as stack:
            yield stack


@contextmanager
def browser_page(width: int = 1400, height: int = 900) -> Iterator[Page]:
    """A page in a fresh Chromium, the window `width` x `height`."""
    with chromium() as browser:
        yield browser.new_page(viewport={"width": width, "height": height})


def open_logged_in(page: Page, stack: LocalStack, path: str) -> None:
    """Opens `path` and logs in as the stack's admin there (the app then shows that page)."""
    page.goto(stack.url + path)
    page.fill("input[name=email]", stack.config.admin_email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
