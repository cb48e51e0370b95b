"""Launching Debian's Chromium through Playwright, and logging in, for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright

from infra.local import LocalStack
from tests.conftest import ADMIN_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, stack: LocalStack, email: str | None = None, password: str = ADMIN_PASSWORD) -> None:
    page.goto(stack.url + "/")
    page.fill("input[name=email]", email or stack.config.admin_email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
