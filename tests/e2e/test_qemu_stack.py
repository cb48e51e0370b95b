"""The whole chain on a real VM: operator API → job → agent → libvirtd + QEMU,
each outcome checked independently with virsh. Also: a change made outside
Fleetvisor (virsh destroy) reaches the API within 2 s through libvirt's
lifecycle events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local import LocalStack, StackConfig, free_port
from tests.conftest import ADMIN_PASSWORD, read_logs
from tests.e2e.console_terminal import ConsoleTerminal
from tests.hypervisor.guest import URI, QemuGuest, define_guest, pool_volumes, prepare, virsh

pytestmark = pytest.mark.e2e
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired"}


@pytest.fixture(scope="module")
def guest() -> Iterator[QemuGuest]:
    made = define_guest(prepare())
    yield made
    made.remove()


@pytest.fixture(scope="module")
def qemu_stack(tmp_path_factory: pytest.TempPathFactory, guest: QemuGuest) -> Iterator[LocalStack]:
    config = StackConfig(root=tmp_path_factory.mktemp("qemu"), api_port=free_port(), spa_dir=None,
                         admin_password=ADMIN_PASSWORD, agent_name="qemu-host", libvirt_uri=URI)
    with LocalStack(config) as stack:
        stack.wait_for_agents(1)
        yield stack


class Operator:
    def __init__(self, stack: LocalStack, guest: QemuGuest) -> None:
        self.stack, self.guest = stack, guest
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.login()}"
        [agent] = self.get("/api/agents")["agents"]
        self.vms = f"/api/agents/{agent['agent_id']}/vms"

    def get(self, path: str) -> Any:
        answer = self.session.get(self.stack.url + path, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def vm_state(self) -> str:
        return str(self.get(f"{self.vms}/{self.guest.uuid}")["state"])

    def run(self, action: str, **fields: Any) -> dict[str, Any]:
        answer = self.session.post(f"{self.stack.url}{self.vms}/{self.guest.uuid}/actions",
                                   json={"action": action, **fields}, timeout=10)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = self.get(f"/api/jobs/{job_id}")
            if job["status"] in FINAL:
                assert job["status"] == "succeeded", (job, read_logs(self.stack))
                return dict(self.get(f"/api/jobs/{job_id}/result"))
            time.sleep(0.1)
        raise AssertionError(f"{action} did not finish")


def test_lifecycle_snapshots_detail_and_delete_on_a_real_vm(qemu_stack: LocalStack, guest: QemuGuest) -> None:
    op = Operator(qemu_stack, guest)
    assert op.vm_state() == "shutoff"
    op.run("start")
    assert virsh("domstate", guest.name) == "running" and op.vm_state() == "running"
    guest.wait_ready()
    op.run("snapshot-create", name="e2e-snap", description="made through Fleetvisor")
    assert "e2e-snap" in virsh("snapshot-list", guest.name, "--name")
    listed = op.run("snapshot-list")["data"]["snapshots"]
    assert [s["name"] for s in listed] == ["e2e-snap"]
    detail = op.run("detail")["data"]
    assert detail["disks"] and detail["disks"][0]["capacity_bytes"] > 0
    op.run("shutdown", timeout_seconds=60)
    assert virsh("domstate", guest.name) == "shut off" and op.vm_state() == "shutoff"


def test_a_change_made_with_virsh_reaches_the_api_within_two_seconds(qemu_stack: LocalStack,
                                                                     guest: QemuGuest) -> None:
    op = Operator(qemu_stack, guest)
    guest.ensure_running_ready()
    deadline = time.monotonic() + 10
    while op.vm_state() != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    virsh("destroy", guest.name)
    destroyed = time.monotonic()
    while op.vm_state() != "shutoff":
        assert time.monotonic() - destroyed < 2.0, "the API still shows the VM running"
        time.sleep(0.05)


def test_a_real_serial_console_round_trips_and_closes_when_the_vm_stops(qemu_stack: LocalStack,
                                                                        guest: QemuGuest) -> None:
    op = Operator(qemu_stack, guest)
    guest.ensure_running_ready()
    while op.vm_state() != "running":
        time.sleep(0.1)
    vm_path = f"{op.vms}/{guest.uuid}"
    term = ConsoleTerminal.open(op.session, qemu_stack.url, vm_path)
    term.wait_open()
    term.type("echo fleet-$((6*7))\r")
    echo_seconds = term.wait_for(b"fleet-42")
    assert echo_seconds < 5, f"the echo took {echo_seconds:.1f}s"

    # A second terminal joins the same session read-only and can replay it from the start.
    replay = ConsoleTerminal.open(op.session, qemu_stack.url, vm_path)
    assert replay.console_id == term.console_id and replay.status == "open"
    replay.wait_for(b"fleet-42")
    refused = op.session.post(f"{qemu_stack.url}/api/consoles/{replay.console_id}/input",
                              json={"client_id": replay.client_id, "data": "reboot\r"}, timeout=10)
    assert refused.status_code == 409

    term.type("poweroff -f\r")
    term.wait_closed()
    assert term.reason == "vm_stopped"
    assert virsh("domstate", guest.name) == "shut off"
    job = op.get(f"/api/jobs/{term.job_id}")
    assert (job["status"], job["summary"]) == ("succeeded", "console closed: vm_stopped")


def test_delete_with_storage_removes_domain_and_volume(qemu_stack: LocalStack, guest: QemuGuest) -> None:
    op = Operator(qemu_stack, guest)
    guest.ensure_shut_off()
    assert guest.volume in pool_volumes()
    op.run("delete", delete_storage=True, confirm=guest.name)
    assert guest.volume not in pool_volumes()
    assert guest.name not in virsh("list", "--all", "--name")
