"""The whole chain on a real VM: operator API → job → agent → libvirtd + QEMU,
each outcome checked independently with virsh (state and its reason, snapshot
list, pool volumes) or on the guest's serial log (a reboot boots it again). Also: a change made outside
Fleetvisor (virsh destroy) reaches the API within 2 s through libvirt's
lifecycle events. The API runs with infra/meter.py's meter, so a test can count what the agent asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local import LocalStack, StackConfig, free_port
from infra.meter import METER_FILE_ENV, read_after_signal
from tests.conftest import ADMIN_PASSWORD, read_logs, wait_until
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
def deaf_guest(guest: QemuGuest) -> Iterator[QemuGuest]:
    """A second guest whose init starts no acpid: it ignores the ACPI power button, as a hung guest would."""
    made = define_guest(prepare(), acpid=False, disk=False)
    yield made
    made.remove()


@pytest.fixture(scope="module")
def qemu_stack(tmp_path_factory: pytest.TempPathFactory, guest: QemuGuest) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("qemu")
    config = StackConfig(root=root, api_port=free_port(), spa_dir=None, admin_password=ADMIN_PASSWORD,
                         agent_name="qemu-host", libvirt_uri=URI,
                         extra_api_env={METER_FILE_ENV: str(root / "meter.json")})
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
        # A guest defined after the agent started is listed once libvirt's define event has been reported.
        wait_until(lambda: guest.uuid in {vm["uuid"] for vm in self.get(self.vms)["vms"]}, what="the VM listed")

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


def test_reboot_force_stop_and_snapshot_revert_on_a_real_vm(qemu_stack: LocalStack, guest: QemuGuest) -> None:
    op = Operator(qemu_stack, guest)
    guest.ensure_running_ready()
    boots = guest.boots()

    op.run("reboot")
    guest.wait_ready(boots + 1)  # it really booted again, and came back running
    assert virsh("domstate", guest.name) == "running"
    op.run("snapshot-create", name="before-stop")
    op.run("force-stop")
    assert guest.state_with_reason() == "shut off (destroyed)"
    assert op.vm_state() == "shutoff"
    reverted = op.run("snapshot-revert", name="before-stop")
    assert guest.state_with_reason() == "running (from snapshot)"  # memory and all: no boot
    assert reverted["vm"]["state"] == "running" and op.vm_state() == "running"
    op.run("snapshot-delete", name="before-stop")
    assert "before-stop" not in virsh("snapshot-list", guest.name, "--name").split()


def test_shutdown_of_a_guest_that_ignores_acpi_escalates_through_the_api(qemu_stack: LocalStack,
                                                                         deaf_guest: QemuGuest) -> None:
    op = Operator(qemu_stack, deaf_guest)
    deaf_guest.ensure_running_ready()  # booted and ignoring the power button, not merely still booting

    result = op.run("shutdown", timeout_seconds=3)

    assert result["data"] == {"escalated": True}
    assert deaf_guest.state_with_reason() == "shut off (destroyed)"
    job = op.get(f"/api/jobs/{result['job_id']}")
    assert job["summary"] == (f"vm.shutdown: VM {deaf_guest.name!r} did not shut down within 3 s of the ACPI "
                              "request and was forced off.")


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

    # Nobody types for longer than an input long poll lasts: the agent, waiting on its own queue, asks the API
    # nothing about the console (its job's lease renewals aside), and typing still echoes at once.
    time.sleep(1)  # the prompt's last bytes
    before = _console_calls(qemu_stack)
    time.sleep(25)
    assert _console_calls(qemu_stack) == before, "the agent called about a console nobody typed into"
    term.type("echo quiet-$((6*6))\r")
    echo_seconds = term.wait_for(b"quiet-36")
    assert echo_seconds < 5, f"the echo after a quiet spell took {echo_seconds:.1f}s"

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
    # The serial stream ends as QEMU goes; libvirt may say "in shutdown" for a moment after.
    wait_until(lambda: virsh("domstate", guest.name) == "shut off", timeout=10, what="the VM shut off")
    job = op.get(f"/api/jobs/{term.job_id}")
    assert (job["status"], job["summary"]) == ("succeeded", "console closed: vm_stopped")


def _console_calls(stack: LocalStack) -> tuple[int, float]:
    """The agent's console requests served so far, and the seconds they held the API (from the meter)."""
    snapshot = read_after_signal(stack.root / "meter.json", stack.children["api"].proc.pid)
    counts = [c for kind, c in snapshot["requests"].items() if kind.startswith("POST /agent/v1/consoles/")]
    return sum(int(c["requests"]) for c in counts), round(sum(c["held_s"] for c in counts), 1)


def test_delete_with_storage_removes_domain_and_volume(qemu_stack: LocalStack, guest: QemuGuest) -> None:
    op = Operator(qemu_stack, guest)
    guest.ensure_shut_off()
    assert guest.volume in pool_volumes()
    op.run("delete", delete_storage=True, confirm=guest.name)
    assert guest.volume not in pool_volumes()
    assert guest.name not in virsh("list", "--all", "--name")
