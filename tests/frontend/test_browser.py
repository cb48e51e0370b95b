"""The web app in Debian's Chromium (driven by Playwright) against a running
local stack: log in, see the host and its VM, shut it down and start it again,
watching each job and the VM's state change without reloading the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from infra.local import LocalStack

from .browser import log_in

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".fleetvisor-test-artifacts"

# Records every text the job-status and vm-state elements take, with a timestamp.
RECORDER = """
window.__seen = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('[data-testid=job-status], [data-testid=vm-state]')) {
    const row = el.closest('[data-job-id], [data-vm-name]');
    const key = row ? (row.dataset.jobId || row.dataset.vmName) : '';
    const last = window.__seen.filter(s => s.key === key).pop();
    if (!last || last.text !== el.textContent) window.__seen.push({key, text: el.textContent, t: performance.now()});
  }
}).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def test_wrong_password_shows_the_error_and_stays_on_login(page: Page, stack: LocalStack) -> None:
    log_in(page, stack, password="definitely not it")
    expect(page.locator("[data-testid=login-error]")).to_contain_text("not correct")
    expect(page.locator("[data-testid=host]")).to_have_count(0)


def test_shutdown_and_start_from_the_browser(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    host = page.locator("[data-testid=host]")
    expect(host.locator("[data-testid=host-status]")).to_have_text("online")
    expect(page.locator("[data-testid=user-email]")).to_have_text(stack.config.admin_email)
    row = page.locator("[data-testid=vm-row][data-vm-name=test]")
    expect(row.locator("[data-testid=vm-state]")).to_have_text("running")
    page.evaluate(RECORDER)
    for action, state in (("shutdown", "shutoff"), ("start", "running")):
        with page.expect_response(lambda r: r.url.endswith("/actions")) as answer:
            row.locator(f"button[data-action={action}]").click()
        assert answer.value.status == 202
        job_id = answer.value.json()["job_id"]
        job_status = page.locator(f"[data-testid=job-row][data-job-id={job_id}] [data-testid=job-status]")
        expect(job_status).to_have_text("succeeded", timeout=15000)
        expect(row.locator("[data-testid=vm-state]")).to_have_text(state, timeout=1000)
        _assert_timeline(page, job_id, state)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "hosts.png"), full_page=True)


def _assert_timeline(page: Page, job_id: str, state: str) -> None:
    seen = page.evaluate("window.__seen")
    job = [s for s in seen if s["key"] == job_id]
    order = ["queued", "claimed", "running", "succeeded"]
    texts = [s["text"] for s in job]
    assert texts[0] == "queued" and texts[-1] == "succeeded", texts
    assert texts == sorted(texts, key=order.index), texts
    finished = job[-1]["t"]
    vm = [s for s in seen if s["key"] == "test" and s["text"] == state and s["t"] >= job[0]["t"]]
    assert vm, seen
    # The VM's new state shows within a second of the job finishing, with no reload.
    assert vm[0]["t"] - finished <= 1000, (vm[0]["t"], finished)



def test_snapshot_made_and_listed_from_the_browser(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    row = page.locator("[data-testid=vm-row][data-vm-name=test]")
    expect(row.locator("[data-testid=vm-state]")).to_have_text("running")
    row.locator("button[data-action=more]").click()
    form = page.locator("[data-testid=snapshot-form]")
    form.locator("input[name=snapshot_name]").fill("ui-snap")
    form.locator("input[name=snapshot_description]").fill("<b>made</b> in the browser")
    form.locator("button[data-action=snapshot-create]").click()
    expect(page.locator("[data-testid=snapshot-row][data-name=ui-snap]")).to_be_visible(timeout=15000)
    expect(page.locator("[data-testid=vm-error]")).to_have_count(0)
