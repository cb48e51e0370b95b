"""The host and guest modules on libvirt's test driver: inventory, power operations, and the error table."""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest
from fleetvisor_agent.hypervisor.errors import HypervisorError
from fleetvisor_agent.hypervisor.guest import ERRORS, STATES, state_name, translate_error
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.jobs import vm_power
from fleetvisor_agent.verify import VerifiedJob

from .conftest import CACHE1, DB1, TEST_VM_UUID, WEB1

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def job_for(op: str, vm_uuid: str) -> VerifiedJob:
    return VerifiedJob(job_id="job_t", agent_id="ag_t", op=op, args={"vm_uuid": vm_uuid}, issued_at=0,
                       expires_at=1, attempt=1, kid="k")


def test_default_host_reports_its_test_vm(default_host: Host) -> None:
    [vm] = default_host.inventory()

    assert vm == {"uuid": TEST_VM_UUID, "name": "test", "state": "running", "vcpus": 2, "memory_kib": 8388608}


def test_capabilities_describe_the_host(default_host: Host) -> None:
    caps = default_host.capabilities()

    assert caps["hypervisor"] == "TEST"
    assert caps["cpu_count"] == 16 and caps["memory_total_kib"] == 3072 * 1024
    assert caps["memory_free_kib"] > 0
    assert caps["libvirt_version"].count(".") == 2 and caps["agent_version"] == "0.1.0"
    assert {"hostname", "cpu_model", "cpu_arch", "hypervisor_version"} <= set(caps)


def test_node_file_host_lists_every_vm_sorted_by_name(node_host: Host) -> None:
    assert node_host.inventory() == [
        {"uuid": CACHE1, "name": "cache1", "state": "paused", "vcpus": 1, "memory_kib": 524288},
        {"uuid": DB1, "name": "db1", "state": "shutoff", "vcpus": 4, "memory_kib": 2097152},
        {"uuid": WEB1, "name": "web1", "state": "running", "vcpus": 2, "memory_kib": 1048576},
    ]
    assert node_host.capabilities()["cpu_count"] == 4


@pytest.mark.parametrize(("method", "vm_uuid", "after"), [
    ("start", DB1, "running"),
    ("shutdown", WEB1, "shutoff"),
    ("force_stop", WEB1, "shutoff"),
    ("force_stop", CACHE1, "shutoff"),
    ("reboot", WEB1, "running"),
    ("suspend", WEB1, "paused"),
    ("resume", CACHE1, "running"),
])
def test_each_operation_changes_the_vm_state(node_host: Host, method: str, vm_uuid: str, after: str) -> None:
    guest = node_host.guest(vm_uuid)

    getattr(guest, method)()

    assert guest.state() == after
    assert {vm["uuid"]: vm["state"] for vm in node_host.inventory()}[vm_uuid] == after


@pytest.mark.parametrize(("method", "vm_uuid", "message"), [
    ("start", WEB1, "Cannot start VM 'web1': it is running."),
    ("start", CACHE1, "Cannot start VM 'cache1': it is paused."),
    ("resume", WEB1, "Cannot resume VM 'web1': it is running."),
    ("suspend", CACHE1, "Cannot suspend VM 'cache1': it is paused."),
    ("shutdown", DB1, "Cannot shut down VM 'db1': it is not running (shut off)."),
    ("force_stop", DB1, "Cannot force-stop VM 'db1': it is not running (shut off)."),
    ("reboot", DB1, "Cannot reboot VM 'db1': it is not running (shut off)."),
])
def test_an_operation_that_does_not_fit_the_state_is_invalid_state(node_host: Host, method: str, vm_uuid: str,
                                                                    message: str) -> None:
    guest = node_host.guest(vm_uuid)
    before = guest.state()

    with pytest.raises(HypervisorError) as caught:
        getattr(guest, method)()

    assert (caught.value.code, caught.value.message, caught.value.transient) == ("invalid_state", message, False)
    assert guest.state() == before


def test_unknown_uuid_is_vm_not_found(node_host: Host) -> None:
    with pytest.raises(HypervisorError) as caught:
        node_host.guest(UNKNOWN_UUID)

    assert caught.value.code == "vm_not_found"
    assert caught.value.message == f"No VM with UUID {UNKNOWN_UUID} on this host."


def test_libvirt_errors_are_translated_through_the_table(node_host: Host) -> None:
    conn = node_host.connection()
    with pytest.raises(libvirt.libvirtError) as not_running:
        conn.lookupByUUIDString(DB1).destroy()  # libvirt's own check, below ours
    with pytest.raises(libvirt.libvirtError) as missing:
        conn.lookupByUUIDString(UNKNOWN_UUID)

    assert translate_error(not_running.value, "'db1'").code == "invalid_state"
    assert translate_error(not_running.value, "'db1'").message.startswith("VM 'db1': ")
    assert translate_error(missing.value).code == "vm_not_found"
    assert ERRORS[libvirt.VIR_ERR_OPERATION_DENIED] == ("permission_denied", False)
    assert ERRORS[libvirt.VIR_ERR_ACCESS_DENIED] == ("permission_denied", False)


def test_a_dead_connection_is_hypervisor_unavailable_and_transient(node_host: Host) -> None:
    conn = node_host.connection()
    conn.close()
    with pytest.raises(libvirt.libvirtError) as dead:
        conn.listAllDomains(0)

    error = translate_error(dead.value)

    assert (error.code, error.transient) == ("hypervisor_unavailable", True)


def test_host_reconnects_when_the_connection_dies(node_host: Host) -> None:
    first = node_host.connection()
    first.close()  # what a libvirtd restart does to every client

    assert [vm["name"] for vm in node_host.inventory()] == ["cache1", "db1", "web1"]
    assert node_host.connection() is not first


def test_unreachable_libvirt_is_transient(tmp_path: Path) -> None:
    host = Host(f"test://{tmp_path}/missing.xml")

    with pytest.raises(HypervisorError) as caught:
        host.inventory()

    assert (caught.value.code, caught.value.transient) == ("hypervisor_unavailable", True)


def test_every_libvirt_state_has_a_lowercase_name() -> None:
    assert sorted(STATES.values()) == sorted(
        ["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"])
    assert state_name(99) == "nostate"


def test_vm_job_reports_the_new_state(node_host: Host) -> None:
    result = vm_power.handle(job_for("vm.suspend", WEB1), node_host)

    assert (result.exit_code, result.summary) == (0, "vm.suspend: VM 'web1' is now paused.")
    assert result.vm == {"uuid": WEB1, "name": "web1", "state": "paused"}
    assert result.document == {"job_id": "job_t", "attempt": 1, "op": "vm.suspend", "ok": True,
                               "vm": result.vm, "error": None, "duration_ms": result.document["duration_ms"]}


def test_vm_job_in_the_wrong_state_fails_with_exit_1_and_the_vm_as_it_is(node_host: Host) -> None:
    result = vm_power.handle(job_for("vm.start", WEB1), node_host)

    assert result.exit_code == 1
    assert result.summary == "invalid_state: Cannot start VM 'web1': it is running."
    assert result.vm == {"uuid": WEB1, "name": "web1", "state": "running"}
    assert result.document["ok"] is False
    assert result.document["error"] == {"code": "invalid_state", "message": "Cannot start VM 'web1': it is running."}


def test_vm_job_for_an_unknown_vm_fails_without_a_vm(node_host: Host) -> None:
    result = vm_power.handle(job_for("vm.force_stop", UNKNOWN_UUID), node_host)

    assert (result.exit_code, result.vm, result.document["error"]["code"]) == (1, None, "vm_not_found")


def test_vm_job_with_libvirt_down_is_transient(tmp_path: Path) -> None:
    result = vm_power.handle(job_for("vm.start", WEB1), Host(f"test://{tmp_path}/missing.xml"))

    assert (result.exit_code, result.document["error"]["code"]) == (2, "hypervisor_unavailable")


def test_default_host_shutdown_and_start_round_trip(default_host: Host) -> None:
    stopped = vm_power.handle(job_for("vm.shutdown", TEST_VM_UUID), default_host)
    started = vm_power.handle(job_for("vm.start", TEST_VM_UUID), default_host)

    assert stopped.vm == {"uuid": TEST_VM_UUID, "name": "test", "state": "shutoff"}
    assert started.vm == {"uuid": TEST_VM_UUID, "name": "test", "state": "running"}
