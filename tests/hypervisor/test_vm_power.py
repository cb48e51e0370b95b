"""Power operations on a real QEMU guest, each checked with virsh afterwards."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.agent.conftest import VECTORS_PATH
from tests.agent.fake_control_plane import FakeControlPlane, running
from tests.agent.test_runner import completions, config_for, start
from tests.conftest import wait_until

from .conftest import TIMINGS, RunJob
from .guest import URI, Image, QemuGuest, define_guest


def test_start_boots_the_guest(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_shut_off()
    started = time.monotonic()

    result = run("vm.start", guest)

    assert result.exit_code == 0, result.summary
    assert result.vm is not None and (result.vm["state"], result.vm["state_reason"]) == ("running", "booted")
    assert guest.state() == "running"
    guest.wait_ready()
    TIMINGS["boot to ready marker (vm.start → FLEETVISOR-GUEST-READY)"] = time.monotonic() - started


@pytest.mark.parametrize(("op", "message"), [
    ("vm.start", "Cannot start VM {name!r}: it is running."),
    ("vm.resume", "Cannot resume VM {name!r}: it is running."),
])
def test_operations_that_do_not_fit_a_running_vm(guest: QemuGuest, run: RunJob, op: str, message: str) -> None:
    guest.ensure_running_ready()

    result = run(op, guest)

    assert (result.exit_code, result.document["error"]) == (
        1, {"code": "invalid_state", "message": message.format(name=guest.name)})
    assert guest.state() == "running"


@pytest.mark.parametrize("op", ["vm.suspend", "vm.reboot", "vm.shutdown"])
def test_operations_that_do_not_fit_a_paused_vm(guest: QemuGuest, run: RunJob, op: str) -> None:
    # QEMU itself would suspend a paused VM again and reboot one without complaint: our check answers first.
    guest.ensure_running_ready()
    assert run("vm.suspend", guest).exit_code == 0
    try:
        result = run(op, guest)
        assert (result.exit_code, result.document["error"]["code"]) == (1, "invalid_state")
        assert guest.state() == "paused"
    finally:
        run("vm.resume", guest)


def test_suspend_and_resume(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()

    suspended = run("vm.suspend", guest)
    state_while_suspended = guest.state_with_reason()
    resumed = run("vm.resume", guest)

    assert (suspended.exit_code, suspended.vm and suspended.vm["state"]) == (0, "paused")
    assert state_while_suspended == "paused (user)"
    assert (resumed.exit_code, guest.state()) == (0, "running")


def test_reboot_boots_the_guest_again(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()
    boots = guest.boots()

    result = run("vm.reboot", guest)

    assert result.exit_code == 0, result.summary
    guest.wait_ready(boots + 1)  # libvirt's ACPI reboot: the guest powers off and QEMU starts it again in place
    assert guest.state() == "running"


def test_reset_boots_the_guest_again(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()
    boots = guest.boots()

    result = run("vm.reset", guest)

    assert (result.exit_code, result.summary) == (0, f"vm.reset: VM {guest.name!r} is now running.")
    guest.wait_ready(boots + 1)


def test_acpi_shutdown_powers_the_guest_off(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()
    started = time.monotonic()

    result = run("vm.shutdown", guest)

    assert (result.exit_code, result.document["data"]) == (0, {"escalated": False})
    guest.wait_state("shut off", timeout=60)
    TIMINGS["ACPI shutdown (vm.shutdown → shut off)"] = time.monotonic() - started
    assert guest.state_with_reason() == "shut off (shutdown)"


def test_acpi_shutdown_with_a_timeout_waits_for_the_guest(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()

    result = run("vm.shutdown", guest, timeout_seconds=60)

    assert (result.exit_code, result.document["data"]) == (0, {"escalated": False})
    assert result.vm is not None and (result.vm["state"], result.vm["state_reason"]) == ("shutoff", "shutdown")
    assert guest.state_with_reason() == "shut off (shutdown)"


def test_force_stop(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_shut_off()
    guest.start()  # no need to wait for the boot: pulling the plug works at any moment

    result = run("vm.force_stop", guest)

    assert (result.exit_code, result.vm and result.vm["state"]) == (0, "shutoff")
    assert guest.state_with_reason() == "shut off (destroyed)"


def test_operations_that_do_not_fit_a_stopped_vm(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_shut_off()

    results = {op: run(op, guest) for op in ("vm.force_stop", "vm.shutdown", "vm.reboot", "vm.reset",
                                              "vm.suspend", "vm.resume")}

    assert {op: (r.exit_code, r.document["error"]["code"]) for op, r in results.items()} == {
        op: (1, "invalid_state") for op in results}
    assert guest.state() == "shut off"


@pytest.fixture(scope="module")
def deaf_guest(image: Image) -> Iterator[QemuGuest]:
    """A guest whose init does not start acpid: it ignores the ACPI power button, as a hung guest would."""
    deaf = define_guest(image, acpid=False, disk=False)
    yield deaf
    deaf.remove()


def test_shutdown_without_a_timeout_leaves_a_deaf_guest_running(deaf_guest: QemuGuest, run: RunJob) -> None:
    deaf_guest.ensure_running_ready()  # booted and ignoring the button, not merely not booted yet

    result = run("vm.shutdown", deaf_guest)

    assert (result.exit_code, result.document["data"]) == (0, {"escalated": False})
    assert result.summary == (f"vm.shutdown: VM {deaf_guest.name!r} was asked to shut down (ACPI); the guest OS "
                              "decides when.")
    time.sleep(2)
    assert deaf_guest.state() == "running"


def test_shutdown_escalates_when_the_guest_ignores_acpi(deaf_guest: QemuGuest, run: RunJob) -> None:
    deaf_guest.ensure_running_ready()
    started = time.monotonic()

    result = run("vm.shutdown", deaf_guest, timeout_seconds=3)

    waited = time.monotonic() - started
    assert (result.exit_code, result.document["data"]) == (0, {"escalated": True})
    assert result.summary == (f"vm.shutdown: VM {deaf_guest.name!r} did not shut down within 3 s of the ACPI "
                              "request and was forced off.")
    assert 3 <= waited < 15
    assert deaf_guest.state_with_reason() == "shut off (destroyed)"


def test_a_hosts_time_limit_ends_the_wait_for_a_deaf_guest_and_forces_nothing(deaf_guest: QemuGuest,
                                                                               tmp_path: Path) -> None:
    """Per-operation time limits on a real slow operation: the whole agent (runner, against the agent tests'
    fake control plane) asked for a 60 s shutdown escalation on a host that allows vm.shutdown 3 s."""
    deaf_guest.ensure_running_ready()
    seed = json.loads(VECTORS_PATH.read_text())["signing_key_seed_hex"]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    with running(FakeControlPlane(signing_key=key)) as fake:
        fake.queue_job("vm.shutdown", deaf_guest.uuid, job_id="job_deaf", args={"timeout_seconds": 60})
        agent = start(dataclasses.replace(config_for(fake, tmp_path / "state", URI), op_timeouts={"vm.shutdown": 3.0}))
        started = time.monotonic()
        done = wait_until(lambda: completions(fake).get("job_deaf"), timeout=30)
        waited = time.monotonic() - started
        agent.stop()

    assert (done["exit_code"], done["vm"]) == (124, None)
    assert done["summary"] == "timed_out: vm.shutdown did not finish within 3 s; the agent stopped waiting for it."
    assert 3 <= waited < 10
    time.sleep(1)
    assert deaf_guest.state() == "running"  # the escalation (60 s) never came: nothing was forced off
