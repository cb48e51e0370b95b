"""The fleet list (/vms) in Debian's Chromium against a stack of its own, whose agent runs a test-driver
host with six VMs: search, sort, labels from a row's menu, a destructive bulk action asked to confirm,
a bulk snapshot with one VM failing (it has a snapshot of that name already), and the narrow layout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from bench.hosts import many_vms_node
from infra.local import REPO, LocalStack, StackConfig, free_port
from tests.conftest import ADMIN_PASSWORD

from .browser import log_in

pytestmark = pytest.mark.browser
VMS = [f"vm-{i:03d}" for i in range(6)]


@pytest.fixture(scope="module")
def fleet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("fleet-list")
    config = StackConfig(root=root / "stack", api_port=free_port(), spa_dir=REPO / "frontend" / "dist",
                         libvirt_uri=many_vms_node(root / "host.xml", len(VMS)), admin_password=ADMIN_PASSWORD,
                         agent_name="rack-7")
    with LocalStack(config) as stack:
        stack.wait_for_agents(1, timeout=60)
        yield stack


def _api(stack: LocalStack) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    return session


def _vm(stack: LocalStack, name: str) -> dict[str, Any]:
    vms = _api(stack).get(f"{stack.url}/api/vms", timeout=10).json()["vms"]
    return next(vm for vm in vms if vm["name"] == name)


def _snapshot(stack: LocalStack, name: str, snapshot: str) -> None:
    """Takes a snapshot through the API and waits for its job to succeed."""
    api, vm = _api(stack), _vm(stack, name)
    answer = api.post(f"{stack.url}/api/agents/{vm['agent_id']}/vms/{vm['uuid']}/actions", timeout=10,
                      json={"action": "snapshot-create", "name": snapshot})
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = api.get(f"{stack.url}/api/jobs/{answer.json()['job_id']}", timeout=10).json()
        if job["final"]:
            assert job["status"] == "succeeded", job
            return
        time.sleep(0.1)
    raise AssertionError("the snapshot job did not finish")


def _open_list(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    page.click("[data-testid=nav-vms]")
    expect(page.locator("[data-testid=fleet-count]")).to_have_text(f"{len(VMS)} of {len(VMS)} VMs")


def _names(page: Page) -> list[str]:
    return page.locator("[data-testid=fleet-row]").evaluate_all("rows => rows.map(r => r.dataset.vmName)")


def test_search_and_sort_over_every_vm(page: Page, fleet_stack: LocalStack) -> None:
    _open_list(page, fleet_stack)
    assert _names(page) == VMS
    expect(page.locator("[data-testid=fleet-row]").first).to_contain_text("rack-7")
    search = page.locator("[data-testid=fleet-search]")
    search.fill("VM-003")
    assert _names(page) == ["vm-003"]
    expect(page.locator("[data-testid=fleet-count]")).to_have_text("1 of 6 VMs")
    search.fill("rack-7 running")  # host and state, every word must match
    assert _names(page) == VMS
    search.fill("nothing-like-it")
    expect(page.locator("[data-testid=fleet-row]")).to_have_count(0)
    search.fill("")
    header = page.locator("[role=columnheader]:has(button[data-sort=name])")
    page.click("button[data-sort=name]")
    expect(header).to_have_attribute("aria-sort", "descending")
    assert _names(page) == VMS[::-1]
    page.click("button[data-sort=name]")
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert _names(page) == VMS


def test_labels_from_a_rows_menu_show_as_chips_and_are_searchable(page: Page, fleet_stack: LocalStack) -> None:
    _open_list(page, fleet_stack)
    row = page.locator("[data-testid=fleet-row][data-vm-name=vm-001]")
    row.locator("button[data-action=menu]").click()
    page.locator("[data-testid=fleet-row-menu] button[data-action=label]").click()
    form = page.locator("[data-testid=fleet-label-form]")
    form.locator("textarea[name=bulk_labels]").fill("tier=db\nowner=<b>ops</b>")
    form.locator("button[data-action=confirm]").click()
    expect(row.locator("[data-testid=vm-label][data-key=tier]")).to_have_text("tier=db")
    expect(row.locator("[data-testid=vm-label][data-key=owner]")).to_have_text("owner=<b>ops</b>")  # as text
    assert _vm(fleet_stack, "vm-001")["labels"] == {"tier": "db", "owner": "<b>ops</b>"}
    page.locator("[data-testid=fleet-search]").fill("tier=db")
    assert _names(page) == ["vm-001"]


def test_a_shutdown_asks_first_and_cancel_sends_nothing(page: Page, fleet_stack: LocalStack) -> None:
    _open_list(page, fleet_stack)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/actions") else None)
    page.locator("[data-testid=fleet-row][data-vm-name=vm-004] input[type=checkbox]").check()
    page.locator("[data-testid=fleet-row][data-vm-name=vm-005] input[type=checkbox]").check()
    expect(page.locator("[data-testid=bulk-bar]")).to_contain_text("2 selected")
    page.click("[data-testid=bulk-bar] button[data-bulk=shutdown]")
    confirm = page.locator("[data-testid=fleet-confirm]")
    expect(confirm).to_contain_text("Shutdown 2 VMs?")
    confirm.locator("button", has_text="Cancel").click()
    expect(confirm).to_have_count(0)
    page.wait_for_timeout(300)
    assert sent == []
    state = page.locator("[data-testid=fleet-row][data-vm-name=vm-004] [data-testid=fleet-vm-state]")
    expect(state).to_have_text("running")

    # From the row's menu: a shutdown asks too; a start does not. Each new state shows once its job ends.
    menu = page.locator("[data-testid=fleet-row-menu]")
    page.locator("[data-testid=fleet-row][data-vm-name=vm-004] button[data-action=menu]").click()
    menu.locator("button[data-action=shutdown]").click()
    confirm.locator("button[data-action=confirm]").click()
    expect(state).to_have_text("shutoff", timeout=15_000)
    page.locator("[data-testid=fleet-row][data-vm-name=vm-004] button[data-action=menu]").click()
    expect(menu.locator("button[data-action=shutdown]")).to_be_disabled()
    menu.locator("button[data-action=start]").click()
    expect(state).to_have_text("running", timeout=15_000)
    assert len(sent) == 2


def test_a_bulk_snapshot_with_one_failing_vm(page: Page, fleet_stack: LocalStack) -> None:
    _snapshot(fleet_stack, "vm-002", "nightly")  # so vm-002's own "nightly" fails
    _open_list(page, fleet_stack)
    page.locator("[data-testid=fleet-select-all]").check()
    expect(page.locator("[data-testid=bulk-bar]")).to_contain_text("6 selected")
    page.click("[data-testid=bulk-bar] button[data-bulk=snapshot]")
    form = page.locator("[data-testid=fleet-snapshot-form]")
    form.locator("input[name=bulk_snapshot_name]").fill("nightly")
    form.locator("button[data-action=confirm]").click()
    run = page.locator("[data-testid=bulk-run]")
    expect(run.locator("[data-testid=bulk-counts]")).to_have_text("5 succeeded, 1 failed, 0 running", timeout=30_000)
    expect(run).to_have_attribute("data-done", "true")
    failed = run.locator("[data-testid=bulk-item][data-status=failed]")
    expect(failed).to_have_count(1)
    expect(failed).to_have_attribute("data-vm-name", "vm-002")
    expect(failed.locator("[data-testid=bulk-error]")).to_contain_text("nightly")
    failed.locator("button[data-action=job]").click()  # the job behind it, in full
    expect(failed.locator(".job-detail")).to_be_visible()
    expect(run.locator("[data-testid=bulk-item][data-status=succeeded]")).to_have_count(5)


def test_a_narrow_screen_shows_name_state_and_the_menu(page: Page, fleet_stack: LocalStack) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    _open_list(page, fleet_stack)
    row = page.locator("[data-testid=fleet-row][data-vm-name=vm-000]")
    expect(row.locator(".fleet-name")).to_be_visible()
    expect(row.locator("[data-testid=fleet-vm-state]")).to_be_visible()
    expect(row.locator("button[data-action=menu]")).to_be_visible()
    expect(row.locator(".fleet-host")).to_be_hidden()
    expect(row.locator(".fleet-addresses")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing sticks out sideways
