"""The web app from 360 px wide up (issue 17, #6), in Debian's Chromium against a running stack: no page
is wider than the window, Log out stays on screen and works, host and VM names are never broken (the
stack's host is "e2e-host", its VM "test": they showed as "e2e- host" and "te st"), and a VM row's
buttons stay on one line. One page session walks every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local import LocalStack

from .browser import log_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".fleetvisor-test-artifacts"
PAGES = ["hosts", "vms", "deploy", "jobs", "tokens", "account", "audit", "users", "api"]

# How wide the page is beyond the window, which host/VM names take more than one line, and where Log out is.
MEASURE = """() => {
  const broken = [];
  for (const el of document.querySelectorAll('.vm-name, .host-name')) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (lines.size > 1) broken.push(el.textContent);
  }
  const out = document.querySelector('[data-testid=logout]').getBoundingClientRect();
  return {overflow: document.documentElement.scrollWidth - window.innerWidth, broken,
          names: document.querySelectorAll('.vm-name, .host-name').length,
          logout: [out.left, out.right, out.top, out.bottom], width: window.innerWidth};
}"""

# The tops of a VM row's buttons (its lifecycle buttons, Console and More).
BUTTON_TOPS = """(row) => [...row.querySelectorAll('td.vm-actions button')]
  .map((b) => Math.round(b.getBoundingClientRect().top))"""


def _queue_a_job(stack: LocalStack) -> None:
    """A job on the host's VM, so the Jobs page has host and VM names in its table."""
    headers = {"Authorization": f"Bearer {stack.login()}"}
    # The stack's own host (other browser tests may have enrolled more in the shared stack).
    agents = requests.get(f"{stack.url}/api/agents", headers=headers, timeout=10).json()["agents"]
    agent = next(a for a in agents if a["name"] == stack.config.agent_name)
    answer = requests.post(f"{stack.url}/api/agents/{agent['agent_id']}/vms/test/actions", headers=headers,
                           json={"action": "detail"}, timeout=10)
    assert answer.status_code == 202, answer.text


def _fits(page: Page, name: str) -> dict[str, Any]:
    seen: dict[str, Any] = page.evaluate(MEASURE)
    left, right, top, bottom = seen["logout"]
    assert seen["overflow"] <= 0, f"{name}: {seen['overflow']} px wider than the window"
    assert seen["broken"] == [], f"{name}: names broken across lines: {seen['broken']}"
    assert 0 <= left and right <= seen["width"] and top >= 0 and bottom > top, f"{name}: Log out at {seen['logout']}"
    return seen


def test_every_page_works_from_360_px_wide(page: Page, stack: LocalStack) -> None:
    _queue_a_job(stack)
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, stack)
    row = page.locator("[data-testid=vm-row][data-vm-name=test]")
    expect(row).to_be_visible()
    tops = row.evaluate(BUTTON_TOPS)
    assert len(tops) >= 8 and len(set(tops)) == 1, f"a VM row's buttons on {len(set(tops))} lines: {tops}"

    page.set_viewport_size({"width": 360, "height": 740})
    named = 0
    for name in PAGES:
        page.click(f"[data-testid=nav-{name}]")
        expect(page.locator(f"[data-testid=nav-{name}]")).to_have_attribute("aria-current", "page")
        if name == "hosts":
            expect(row).to_be_visible()
        if name == "jobs":
            expect(page.locator("[data-testid=jobs-page-row]").first).to_be_visible()
        named += _fits(page, name)["names"]
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"narrow-{name}.png"), full_page=True)
    assert named >= 4  # the host card's name, the VM's, and both in the jobs table were looked at

    page.click("[data-testid=logout]")
    expect(page.locator("input[name=email]")).to_be_visible()
