"""Every job type through `jobs.run(job, host)` on libvirt's test driver: result document, data, exit code."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fleetvisor_agent import jobs
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.verify import VerifiedJob

from .conftest import CACHE1, DB1, STUBBORN1, TEST_VM_UUID, WEB1

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def job_for(op: str, vm_uuid: str | None = None, **args: Any) -> VerifiedJob:
    if vm_uuid is not None:
        args["vm_uuid"] = vm_uuid
    return VerifiedJob(job_id="job_t", agent_id="ag_t", op=op, args=args, issued_at=0, expires_at=1, attempt=1,
                       kid="k")


def run(host: Host, op: str, vm_uuid: str | None = None, **args: Any) -> jobs.Result:
    job = job_for(op, vm_uuid, **args)
    assert jobs.args_valid(op, job.args), "the test must send arguments the verifier would let through"
    return jobs.run(job, host)


def states(host: Host) -> dict[str, str]:
    return {vm["name"]: vm["state"] for vm in host.inventory()}


def test_vm_job_reports_the_new_state(node_host: Host) -> None:
    result = run(node_host, "vm.suspend", WEB1)

    assert (result.exit_code, result.summary) == (0, "vm.suspend: VM 'web1' is now paused.")
    assert result.vm == {"uuid": WEB1, "name": "web1", "state": "paused", "state_reason": "user", "vcpus": 2,
                         "memory_kib": 1048576, "autostart": False, "persistent": True, "addresses": []}
    assert result.document == {"job_id": "job_t", "attempt": 1, "op": "vm.suspend", "ok": True, "vm": result.vm,
                               "error": None, "data": None, "duration_ms": result.document["duration_ms"]}


def test_vm_job_in_the_wrong_state_fails_with_exit_1_and_the_vm_as_it_is(node_host: Host) -> None:
    result = run(node_host, "vm.start", WEB1)

    assert result.exit_code == 1
    assert result.summary == "invalid_state: Cannot start VM 'web1': it is running."
    assert result.vm is not None and result.vm["state"] == "running"
    assert result.document["ok"] is False
    assert result.document["error"] == {"code": "invalid_state", "message": "Cannot start VM 'web1': it is running."}


@pytest.mark.parametrize("op", ["vm.force_stop", "vm.detail", "vm.snapshot_list"])
def test_vm_job_for_an_unknown_vm_fails_without_a_vm(node_host: Host, op: str) -> None:
    result = run(node_host, op, UNKNOWN_UUID)

    assert (result.exit_code, result.vm, result.document["error"]["code"]) == (1, None, "vm_not_found")


def test_vm_job_with_libvirt_down_is_transient(tmp_path: Path) -> None:
    result = run(Host(f"test://{tmp_path}/missing.xml"), "vm.start", WEB1)

    assert (result.exit_code, result.document["error"]["code"]) == (2, "hypervisor_unavailable")


def test_default_host_shutdown_and_start_round_trip(default_host: Host) -> None:
    stopped = run(default_host, "vm.shutdown", TEST_VM_UUID)
    started = run(default_host, "vm.start", TEST_VM_UUID)

    assert stopped.vm is not None and (stopped.vm["state"], stopped.vm["state_reason"]) == ("shutoff", "shutdown")
    assert stopped.document["data"] == {"escalated": False}
    assert started.vm is not None and started.vm["state"] == "running"


def test_shutdown_with_a_timeout_reports_that_it_did_not_escalate(node_host: Host) -> None:
    result = run(node_host, "vm.shutdown", WEB1, timeout_seconds=5)

    assert (result.exit_code, result.document["data"]) == (0, {"escalated": False})
    assert states(node_host)["web1"] == "shutoff"


def test_shutdown_of_a_vm_that_ignores_acpi_escalates_after_the_timeout(stubborn_uri: str) -> None:
    host = Host(stubborn_uri)

    result = run(host, "vm.shutdown", STUBBORN1, timeout_seconds=1)

    assert (result.exit_code, result.document["data"]) == (0, {"escalated": True})
    assert result.summary == ("vm.shutdown: VM 'stubborn1' did not shut down within 1 s of the ACPI request and "
                              "was forced off.")
    assert states(host)["stubborn1"] == "shutoff"


def test_a_cancel_ends_the_shutdown_wait_early_and_does_not_escalate(stubborn_uri: str) -> None:
    host = Host(stubborn_uri)
    job = job_for("vm.shutdown", STUBBORN1, timeout_seconds=60)
    threading.Timer(0.2, job.cancelled.set).start()
    started = time.monotonic()

    result = jobs.run(job, host)

    assert time.monotonic() - started < 5
    assert (result.exit_code, result.document["data"]) == (0, {"escalated": False})
    assert "cancelled before the timeout" in result.summary
    assert states(host)["stubborn1"] == "running"


def test_reset_keeps_the_vm_running(node_host: Host) -> None:
    result = run(node_host, "vm.reset", WEB1)

    assert (result.exit_code, result.summary) == (0, "vm.reset: VM 'web1' is now running.")


def test_set_autostart(node_host: Host) -> None:
    on = run(node_host, "vm.set_autostart", DB1, autostart=True)
    entry = {vm["name"]: vm for vm in node_host.inventory()}["db1"]

    assert (on.exit_code, on.summary) == (0, "vm.set_autostart: VM 'db1' will start with the host.")
    assert on.vm is not None and on.vm["autostart"] is True and entry["autostart"] is True
    off = run(node_host, "vm.set_autostart", DB1, autostart=False)
    assert (off.summary, off.vm and off.vm["autostart"]) == (
        "vm.set_autostart: VM 'db1' will not start with the host.", False)


def test_delete_with_a_wrong_confirmation_deletes_nothing(node_host: Host) -> None:
    pool = node_host.connection().storagePoolLookupByName("fv-pool")

    result = run(node_host, "vm.delete", DB1, delete_storage=True, confirm="web1")

    assert result.exit_code == 1
    assert result.document["error"] == {
        "code": "confirmation_mismatch",
        "message": "The confirmation 'web1' is not the VM's name 'db1'; nothing was deleted."}
    assert "db1" in states(node_host) and len(pool.listVolumes()) == 3


def test_delete_of_a_running_vm_is_refused(node_host: Host) -> None:
    result = run(node_host, "vm.delete", WEB1, delete_storage=False, confirm="web1")

    assert (result.exit_code, result.document["error"]["code"]) == (1, "invalid_state")
    assert states(node_host)["web1"] == "running"


def test_delete_with_storage(node_host: Host) -> None:
    result = run(node_host, "vm.delete", DB1, delete_storage=True, confirm="db1")

    assert (result.exit_code, result.vm, result.document["data"]) == (0, None, None)
    assert result.summary == ("vm.delete: VM 'db1' was deleted; volumes deleted: fv-pool/db1.qcow2, "
                              "fv-pool/db1-data.img; disks kept: vdc (not a storage pool volume), hdc (cdrom).")
    assert "db1" not in states(node_host)


def test_delete_without_storage(node_host: Host) -> None:
    result = run(node_host, "vm.delete", DB1, delete_storage=False, confirm="db1")

    assert (result.exit_code, result.summary) == (0, "vm.delete: VM 'db1' was deleted.")
    assert len(node_host.connection().storagePoolLookupByName("fv-pool").listVolumes()) == 3


def test_snapshot_jobs(node_host: Host) -> None:
    created = run(node_host, "vm.snapshot_create", WEB1, name="before-upgrade", description="known good")
    run(node_host, "vm.suspend", WEB1)
    run(node_host, "vm.snapshot_create", WEB1, name="paused")
    listed = run(node_host, "vm.snapshot_list", WEB1)
    reverted = run(node_host, "vm.snapshot_revert", WEB1, name="before-upgrade")
    deleted = run(node_host, "vm.snapshot_delete", WEB1, name="paused")
    after = run(node_host, "vm.snapshot_list", WEB1)

    assert created.summary == "vm.snapshot_create: VM 'web1' has a new snapshot 'before-upgrade' with its memory."
    snapshots = listed.document["data"]["snapshots"]
    assert [(s["name"], s["description"], s["state"], s["current"]) for s in snapshots] == [
        ("before-upgrade", "known good", "running", False), ("paused", None, "paused", True)]
    assert listed.summary == "vm.snapshot_list: VM 'web1' has 2 snapshots."
    assert reverted.summary == "vm.snapshot_revert: VM 'web1' was reverted to snapshot 'before-upgrade'; it is running."
    assert deleted.summary == "vm.snapshot_delete: Snapshot 'paused' of VM 'web1' was deleted."
    assert [s["name"] for s in after.document["data"]["snapshots"]] == ["before-upgrade"]


@pytest.mark.parametrize(("op", "args", "code"), [
    ("vm.snapshot_revert", {"name": "missing"}, "snapshot_not_found"),
    ("vm.snapshot_delete", {"name": "missing"}, "snapshot_not_found"),
    ("vm.snapshot_create", {"name": "taken"}, "snapshot_exists"),
])
def test_snapshot_job_errors(node_host: Host, op: str, args: dict[str, Any], code: str) -> None:
    run(node_host, "vm.snapshot_create", CACHE1, name="taken")

    result = run(node_host, op, CACHE1, **args)

    assert (result.exit_code, result.document["error"]["code"]) == (1, code)
    assert [s["name"] for s in run(node_host, "vm.snapshot_list", CACHE1).document["data"]["snapshots"]] == ["taken"]


def test_detail_job(node_host: Host) -> None:
    result = run(node_host, "vm.detail", DB1)

    data = result.document["data"]
    assert result.summary == "vm.detail: VM 'db1' is shutoff (unknown); 4 disks, 1 NIC."
    assert {"disks", "nics", "ips", "uptime_seconds", "cpu_time_ns", "vcpus", "memory_kib", "autostart",
            "persistent", "state", "state_reason"} <= set(data)


def test_host_capabilities_job(node_host: Host) -> None:
    result = run(node_host, "host.capabilities")

    data = result.document["data"]
    assert (result.exit_code, result.vm) == (0, None)
    assert result.summary.startswith("host.capabilities: TEST ") and "1 storage pool, 0 networks." in result.summary
    assert data["storage_pools"][0]["name"] == "fv-pool" and data["kvm_usable"] is False


def test_host_capabilities_job_with_libvirt_down_is_transient(tmp_path: Path) -> None:
    result = run(Host(f"test://{tmp_path}/missing.xml"), "host.capabilities")

    assert (result.exit_code, result.document["error"]["code"], result.document["data"]) == (
        2, "hypervisor_unavailable", None)


@pytest.mark.parametrize(("op", "vm_uuid"), [("vm.start", WEB1), ("vm.resume", WEB1), ("vm.force_stop", DB1)])
def test_a_retry_that_finds_its_work_done_succeeds_but_a_first_attempt_does_not(node_host: Host, op: str,
                                                                                vm_uuid: str) -> None:
    """web1 runs and db1 is shut off: what a lost first attempt of these jobs would have left behind."""
    retry = dataclasses.replace(job_for(op, vm_uuid), attempt=2)
    before = states(node_host)

    first, second = run(node_host, op, vm_uuid), jobs.run(retry, node_host)

    assert (first.exit_code, first.document["error"]["code"]) == (1, "invalid_state")
    assert (second.exit_code, second.document["data"]) == (0, {"already_done": True})
    assert second.summary.startswith(f"{op}: VM ")
    assert "was already" in second.summary
    assert states(node_host) == before


def test_a_retry_of_a_reboot_reboots_again(node_host: Host) -> None:
    retry = dataclasses.replace(job_for("vm.reboot", WEB1), attempt=2)

    result = jobs.run(retry, node_host)

    assert (result.exit_code, result.document["data"]) == (0, None)
