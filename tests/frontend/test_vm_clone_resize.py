"""Cloning and resizing a real VM from its page: Debian's Chromium (Playwright) → API → agent → libvirtd +
QEMU, each result checked with virsh and qemu-img on the same host.

Clone: refused while the VM runs (the page says why), a bad name refused beside the field, then a
linked clone made (its disk a qcow2 overlay on the source's). Resize: a disk grown at once on the
shut-off VM ("applied now"), a smaller size refused by the form before anything is sent, and memory
changed on the running VM ("next boot")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local import LocalStack
from tests.hypervisor.guest import POOL_DIR, QemuGuest, disk_info, remove_clone, virsh

from .browser import log_in
from .conftest import qemu_spa_stack

pytestmark = pytest.mark.browser
JOB_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def clone_stack(tmp_path_factory: pytest.TempPathFactory, guest: QemuGuest) -> Iterator[LocalStack]:
    with qemu_spa_stack(tmp_path_factory, "clone-host") as stack:
        yield stack


@pytest.fixture
def clone_name(guest: QemuGuest) -> Iterator[str]:
    name = f"{guest.name}-web"
    yield name
    remove_clone(name)


def _jobs(stack: LocalStack, op: str) -> list[dict[str, object]]:
    answer = requests.get(f"{stack.url}/api/jobs?limit=100", headers={"Authorization": f"Bearer {stack.login()}"},
                          timeout=10)
    assert answer.status_code == 200, answer.text
    return [job for job in answer.json()["jobs"] if job["op"] == op]


def _open_vm_page(page: Page, stack: LocalStack, guest: QemuGuest, state: str) -> None:
    log_in(page, stack)
    page.locator(f"[data-testid=vm-row][data-vm-uuid='{guest.uuid}'] [data-testid=vm-page-link]").click()
    expect(page.locator("[data-testid=vm-page]")).to_have_attribute("data-vm-uuid", guest.uuid)
    expect(page.locator("[data-testid=vm-state]")).to_contain_text(state, timeout=30_000)


def test_clone_a_shut_off_vm_from_its_page(page: Page, clone_stack: LocalStack, guest: QemuGuest,
                                           clone_name: str) -> None:
    guest.ensure_running_ready()
    _open_vm_page(page, clone_stack, guest, "running")
    page.click("[data-testid=vm-page] button[data-action=clone]")
    form = page.locator("[data-testid=clone-form]")
    expect(form.locator("[data-testid=clone-blocked]")).to_contain_text("Shut")
    expect(form.locator("button[data-action=confirm-clone]")).to_be_disabled()

    guest.ensure_shut_off()
    expect(form.locator("[data-testid=clone-blocked]")).to_have_count(0, timeout=30_000)  # the change feed
    form.locator("input[name=clone_name]").fill("bad name")
    form.locator("button[data-action=confirm-clone]").click()
    expect(form.locator("[data-testid=field-error]")).to_contain_text("1 to 64 letters")
    assert _jobs(clone_stack, "vm.clone") == []

    form.locator("input[name=clone_name]").fill(clone_name)
    form.locator("input[name=clone_mode][value=linked]").check()
    form.locator("button[data-action=confirm-clone]").click()
    outcome = form.locator("[data-testid=clone-outcome]")
    expect(outcome).to_have_attribute("data-ok", "true", timeout=JOB_TIMEOUT_MS)
    expect(outcome).to_contain_text(f"Made {clone_name}, a linked clone of {guest.name}")
    overlay = disk_info(f"{clone_name}-vda.qcow2")
    assert overlay["backing-filename"] == str(POOL_DIR / str(guest.volume)), overlay
    assert virsh("domstate", clone_name) == "shut off"


def test_resize_a_vm_from_its_page(page: Page, clone_stack: LocalStack, guest: QemuGuest) -> None:
    guest.ensure_shut_off()
    _open_vm_page(page, clone_stack, guest, "shutoff")
    page.click("[data-testid=vm-page] button[data-action=resize]")
    form = page.locator("[data-testid=resize-form]")
    disk = form.locator("input[name=disk-vda]")
    expect(disk).to_have_value("1", timeout=JOB_TIMEOUT_MS)  # read by vm.detail: 16 MiB, rounded up

    disk.fill("2")
    form.locator("button[data-action=confirm-resize]").click()
    outcome = form.locator("[data-testid=resize-outcome]")
    expect(outcome).to_have_attribute("data-applies", "now", timeout=JOB_TIMEOUT_MS)
    expect(outcome).to_contain_text("Applied now.")
    assert disk_info(str(guest.volume))["virtual-size"] == 2 * 1024**3

    # The form read the disk again: 2 GiB now, so 1 GiB is a shrink, refused before anything is sent.
    expect(form.locator("[data-field=disk-vda] label")).to_contain_text("2 GiB now", timeout=JOB_TIMEOUT_MS)
    sent = len(_jobs(clone_stack, "vm.resize"))
    disk.fill("1")
    form.locator("button[data-action=confirm-resize]").click()
    expect(form.locator("[data-field=disk-vda] [data-testid=field-error]")).to_have_text(
        "Disks only grow: vda is 2 GiB now, so 2 GiB or more.")
    assert len(_jobs(clone_stack, "vm.resize")) == sent

    guest.ensure_running_ready()
    expect(page.locator("[data-testid=vm-state]")).to_contain_text("running", timeout=30_000)
    disk.fill("2")
    form.locator("input[name=memory_mib]").fill("192")
    form.locator("button[data-action=confirm-resize]").click()
    expect(outcome).to_have_attribute("data-applies", "next_boot", timeout=JOB_TIMEOUT_MS)
    expect(outcome).to_contain_text("take effect at its next boot")
    defined = ET.fromstring(virsh("dumpxml", guest.name, "--inactive"))
    assert defined.findtext("memory") == str(192 * 1024), ET.tostring(defined)
