"""A real VM's page in the web app, and its graphs fed by libvirt's statistics: Debian's Chromium
(Playwright) → API → S3 ← agent ← libvirtd + QEMU.

Two paths carry the statistics, and each is checked against virsh on the same VM:
- live: the open page asks the host (doorbell) to sample the VM every 5 s and put a live object,
  which the page reads from the bucket; the memory the chart shows is the balloon's, as virsh says;
- batched: the agent (here sampling every 2 s and uploading every 6 s instead of 60 s and 30 min)
  asks for an upload URL on a heartbeat and puts its batch; GET …/metrics assembles it, with the
  CPU share QEMU reports and the balloon's memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local import LocalStack
from tests.conftest import read_logs
from tests.hypervisor.guest import QemuGuest, virsh

from .browser import log_in
from .conftest import qemu_spa_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def qemu_stack(tmp_path_factory: pytest.TempPathFactory, guest: QemuGuest) -> Iterator[LocalStack]:
    fast = {"FLEETVISOR_AGENT_METRICS_STEP_SECONDS": "2", "FLEETVISOR_AGENT_METRICS_BATCH_SECONDS": "6",
            "FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "5"}
    with qemu_spa_stack(tmp_path_factory, "metrics-host", fast) as stack:
        guest.ensure_running_ready()
        yield stack


def _balloon_kib(guest: QemuGuest) -> int:
    stats = dict(line.strip().split("=", 1) for line in virsh("domstats", "--balloon", guest.name).splitlines()
                 if "=" in line)
    return int(stats["balloon.current"])


def _api(stack: LocalStack) -> tuple[requests.Session, str]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    [agent] = session.get(f"{stack.url}/api/agents", timeout=10).json()["agents"]
    return session, str(agent["agent_id"])


def _series(stack: LocalStack, guest: QemuGuest, query: str = "") -> dict[str, Any]:
    session, agent_id = _api(stack)
    answer = session.get(f"{stack.url}/api/agents/{agent_id}/vms/{guest.uuid}/metrics{query}", timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_batches_of_real_qemu_statistics_reach_the_series_api(qemu_stack: LocalStack, guest: QemuGuest) -> None:
    deadline = time.monotonic() + 60
    body = _series(qemu_stack, guest)
    while not [c for c in body["cpu"] if c is not None]:
        assert time.monotonic() < deadline, (body, read_logs(qemu_stack))
        time.sleep(2)
        body = _series(qemu_stack, guest)
    assert body["objects"] >= 1 and body["skipped"] == 0
    cpu = [c for c in body["cpu"] if c is not None]
    assert all(0 < c <= 100 for c in cpu), cpu  # an emulated guest spends some CPU, never more than its vCPUs
    assert body["memory"][-1] == _balloon_kib(guest)
    assert body["memory_used"][-1] is not None and body["memory_used"][-1] > 0  # QEMU's RSS
    assert any(d is not None for d in body["disk_read"])
    week = _series(qemu_stack, guest, "?range=week")
    assert week["step"] == 1680 and week["cpu"]


def test_the_vm_page_charts_live_statistics_of_the_real_vm(page: Page, qemu_stack: LocalStack,
                                                           guest: QemuGuest) -> None:
    log_in(page, qemu_stack)
    page.locator(f"[data-testid=vm-row][data-vm-uuid='{guest.uuid}'] [data-testid=vm-page-link]").click()
    expect(page.locator("[data-testid=vm-page]")).to_have_attribute("data-vm-uuid", guest.uuid)
    expect(page.locator("[data-testid=vm-page-name]")).to_have_text(guest.name)
    expect(page.locator("[data-testid=vm-state]")).to_contain_text("running")
    assert page.url.endswith(f"/vms/{page.url.split('/vms/')[1]}")
    # The page asked for live samples and reads the host's live object: the charts fill within a few reads.
    expect(page.locator("[data-testid=vm-charts-live]")).to_contain_text("Live", timeout=20000)
    cpu = page.locator("[data-testid=chart-cpu]")
    expect(cpu).not_to_have_attribute("data-latest", "", timeout=60000)
    share = float(cpu.get_attribute("data-latest") or "nan")
    assert 0 < share <= 100, share
    assigned = page.locator("[data-testid=chart-memory] [data-metric=memory]")
    expect(assigned).to_have_attribute("data-value", str(_balloon_kib(guest) * 1024))
    # The fine samples came from the host's live object (the batches alone have one point a minute).
    expect(page.locator("[data-testid=vm-charts]")).not_to_have_attribute("data-live-samples", "0", timeout=45000)
    expect(page.locator("[data-testid=vm-charts]")).not_to_have_attribute("data-live-samples", "1", timeout=30000)
    assert int(cpu.get_attribute("data-points") or 0) >= 2
    # uPlot drew it: a canvas in each chart, from the bundle (the page's CSP allows no other script origin).
    expect(page.locator("[data-testid=chart-cpu] canvas")).to_have_count(1)
    expect(page.locator("[data-testid=chart-network] canvas")).to_have_count(1)
    expect(page.locator("[data-testid=vm-disk]").first).to_be_visible(timeout=30000)  # details read on open
    page.get_by_role("button", name="Last week").click()
    expect(page.locator("[data-testid=chart-cpu]")).not_to_have_attribute("data-latest", "", timeout=20000)


def test_the_host_card_shows_its_cpu_in_use_and_its_real_pools_and_networks(page: Page, qemu_stack: LocalStack,
                                                                             guest: QemuGuest) -> None:
    log_in(page, qemu_stack)
    card = page.locator("[data-testid=host]").first
    used = card.locator("[data-testid=host-cpu-used]")
    expect(used).to_contain_text("%", timeout=30000)  # measured by the agent's sampler, sent with a heartbeat
    assert 0 <= float(used.inner_text().rstrip(" %")) <= 100
    expect(card.locator("[data-testid=host-memory-used]")).to_contain_text(" of ")
    card.get_by_role("button", name="Pools and networks").click()
    pools = virsh("pool-list", "--all", "--name").split()
    expect(card.locator("[data-testid=host-pool]")).to_have_count(len(pools), timeout=30000)
    for name in pools:
        expect(card.locator(f"[data-testid=host-pool][data-pool='{name}']")).to_contain_text("free of")
    networks = virsh("net-list", "--all", "--name").split()
    expect(card.locator("[data-testid=host-network]")).to_have_count(len(networks))


def test_a_hidden_vm_page_asks_nothing_and_a_shown_one_asks_again_at_once(page: Page, qemu_stack: LocalStack,
                                                                          guest: QemuGuest) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "metrics" in request.url else None)
    log_in(page, qemu_stack)
    page.locator(f"[data-testid=vm-row][data-vm-uuid='{guest.uuid}'] [data-testid=vm-page-link]").click()
    expect(page.locator("[data-testid=vm-charts-live]")).to_contain_text("Live", timeout=20000)
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    asked.clear()
    page.wait_for_timeout(25_000)  # longer than the live object's read interval (20 s)
    assert asked == []
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(2000)
    assert any(url.endswith("/metrics/live") for url in asked), asked  # the host is asked again at once
    assert any("/metrics?range=hour" in url for url in asked), asked


def test_the_vm_page_and_its_graphs_fit_a_360_px_screen(page: Page, qemu_stack: LocalStack, guest: QemuGuest) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, qemu_stack)
    page.locator(f"[data-testid=vm-row][data-vm-uuid='{guest.uuid}'] [data-testid=vm-page-link]").click()
    expect(page.locator("[data-testid=chart-cpu] canvas")).to_have_count(1, timeout=20000)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the VM page is {overflow} px wider than the window"
    width = page.locator("[data-testid=chart-cpu] canvas").evaluate("c => c.getBoundingClientRect().width")
    assert 200 <= width <= 360, width
