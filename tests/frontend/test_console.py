"""A real VM's serial console in the web app: Debian's Chromium (Playwright) → API → agent → libvirtd →
QEMU and back through S3. Output shows in xterm.js, a typed command's echo comes back, a second
browser reads along and takes over, closing ends the session, and the transcript replays."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from infra.local import LocalStack
from tests.conftest import read_logs
from tests.hypervisor.conftest import TIMINGS
from tests.hypervisor.guest import QemuGuest, virsh

from .browser import log_in
from .conftest import qemu_spa_stack

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".fleetvisor-test-artifacts"


@pytest.fixture(scope="module")
def qemu_stack(tmp_path_factory: pytest.TempPathFactory, guest: QemuGuest) -> Iterator[LocalStack]:
    with qemu_spa_stack(tmp_path_factory, "console-host") as stack:
        yield stack


def _running(stack: LocalStack, guest: QemuGuest) -> None:
    """The guest booted to its shell prompt, and the API knows it runs."""
    guest.ensure_running_ready()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    [agent] = session.get(f"{stack.url}/api/agents", timeout=10).json()["agents"]
    deadline = time.monotonic() + 10
    while session.get(f"{stack.url}/api/agents/{agent['agent_id']}/vms/{guest.uuid}", timeout=10).json()[
            "state"] != "running":
        assert time.monotonic() < deadline, read_logs(stack)
        time.sleep(0.1)


def test_a_serial_console_in_the_browser(browser: Browser, page: Page, qemu_stack: LocalStack,
                                         guest: QemuGuest) -> None:
    _running(qemu_stack, guest)
    log_in(page, qemu_stack)
    page.locator(f"[data-testid=vm-console-{guest.name}]").click()
    status = page.locator("[data-testid=console-status]")
    expect(status).to_have_attribute("data-status", "open", timeout=30000)
    expect(page.locator("[data-testid=console-writer]")).to_have_attribute("data-writer", "writer")
    console_url = page.url

    screen = page.locator("[data-testid=console-terminal] .xterm-rows")
    page.locator("[data-testid=console-terminal]").click()
    started = time.monotonic()
    page.keyboard.type("echo web-$((6*7))")
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("web-42", timeout=10000)
    echo_seconds = time.monotonic() - started
    assert echo_seconds < 5, f"typing to echo on screen took {echo_seconds:.1f}s"
    # xterm styles itself at run time: text drawn in the background's colour would pass every text check.
    text_colour, background = screen.evaluate(
        "el => [getComputedStyle(el).color, getComputedStyle(el.closest('.xterm-screen').parentElement)"
        ".backgroundColor]")
    assert text_colour != background, (text_colour, background)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console.png"), full_page=True)

    # A second operator's browser joins the same session: it reads along, then takes over typing.
    other = browser.new_context().new_page()
    try:
        log_in(other, qemu_stack)
        expect(other.locator("[data-testid=host]")).to_have_count(1)
        other.goto(console_url)
        expect(other.locator("[data-testid=console-status]")).to_have_attribute("data-status", "open",
                                                                                 timeout=30000)
        expect(other.locator("[data-testid=console-writer]")).to_have_attribute("data-writer", "read-only")
        other_screen = other.locator("[data-testid=console-terminal] .xterm-rows")
        expect(other_screen).to_contain_text("web-42", timeout=10000)
        other.locator("[data-testid=console-takeover]").click()
        expect(other.locator("[data-testid=console-writer]")).to_have_attribute("data-writer", "writer")
        other.locator("[data-testid=console-terminal]").click()
        other.keyboard.type("echo second-$((10+1))")
        other.keyboard.press("Enter")
        expect(other_screen).to_contain_text("second-11", timeout=10000)
        expect(screen).to_contain_text("second-11", timeout=10000)  # the first browser sees it too

        other.locator("[data-testid=console-close]").click()
        expect(other.locator("[data-testid=console-status]")).to_have_attribute("data-status", "closed",
                                                                                 timeout=15000)
        expect(other.locator("[data-testid=console-status]")).to_have_attribute("data-reason", "requested")
        expect(status).to_have_attribute("data-status", "closed", timeout=25000)
    finally:
        other.context.close()
    assert virsh("domstate", guest.name) == "running"  # closing the console leaves the VM alone

    # The transcript stays and replays from the VM's console history.
    page.goto(qemu_stack.url + "/")
    page.locator(f"[data-testid=vm-row][data-vm-name={guest.name}] button[data-action=more]").click()
    page.locator("button[data-action=console-history]").first.click()
    page.locator("[data-testid=console-history-row] [data-testid=console-replay]").first.click()
    expect(page.locator("[data-testid=console-writer]")).to_have_attribute("data-writer", "replay")
    replay = page.locator("[data-testid=console-terminal] .xterm-rows")
    expect(replay).to_contain_text("web-42", timeout=10000)
    expect(replay).to_contain_text("second-11")


def test_a_vm_stopped_with_virsh_shows_as_shut_off_in_the_open_page_within_two_seconds(
        page: Page, qemu_stack: LocalStack, guest: QemuGuest) -> None:
    _running(qemu_stack, guest)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
    log_in(page, qemu_stack)
    selector = f"[data-testid=vm-row][data-vm-name={guest.name}] [data-testid=vm-state]"
    state = page.locator(selector)
    expect(state).to_have_text("running", timeout=10000)
    page.wait_for_timeout(1000)  # the page is idle, reading its change feed from the bucket

    virsh("destroy", guest.name)
    destroyed = time.monotonic()
    # Through libvirt's event → the agent's heartbeat → the bump's PUT of changes/<owner> → the page's next
    # read of it, straight from moto's S3 over HTTP (every 1.5 s) → its refetch. The page's slow tick
    # (45 s) cannot make this bound. Checked every 20 ms: expect()'s own back-off (checks 1 s apart after
    # the first 0.85 s) would read a change at 1.9 s as one at 2.85 s.
    page.wait_for_function("sel => document.querySelector(sel)?.textContent === 'shutoff'", arg=selector,
                           polling=20, timeout=5000)
    seen_after = time.monotonic() - destroyed
    TIMINGS["`virsh destroy` → shut off in the open web page"] = seen_after
    assert seen_after < 2.0, f"the page showed the VM shut off {seen_after:.1f}s after virsh destroy"
    reason = page.locator(f"[data-testid=vm-row][data-vm-name={guest.name}] [data-testid=vm-state-reason]")
    expect(reason).to_contain_text("destroyed")
    feed_reads = [line for line in asked if line.startswith("GET ") and "/changes/" in line and "X-Amz-" in line]
    assert feed_reads and not any(f"{qemu_stack.url}/" in line for line in feed_reads), asked  # from S3, not the API
    assert not any("/api/changes?" in line for line in asked), asked  # no long poll held
