"""The host and guest modules on libvirt's test driver: inventory, operations, snapshots, storage, the error table."""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest
from fleetvisor_agent.hypervisor.errors import CODES, HypervisorError
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.hypervisor.snapshots import snapshot_xml
from fleetvisor_agent.hypervisor.translate import (
    ERRORS,
    REASONS,
    STATES,
    reason_name,
    state_name,
)

from tests import libvirt_errors
from tests.conftest import wait_until

from .conftest import CACHE1, DB1, TEST_VM_UUID, WEB1

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def entry(uuid: str, name: str, state: str, reason: str, vcpus: int, memory_kib: int,
          addresses: tuple[str, ...] = ()) -> dict[str, object]:
    return {"uuid": uuid, "name": name, "state": state, "state_reason": reason, "vcpus": vcpus,
            "memory_kib": memory_kib, "autostart": False, "persistent": True, "addresses": list(addresses)}


def test_default_host_reports_its_test_vm(default_host: Host) -> None:
    [vm] = default_host.inventory()

    # test:///default is shared by the whole process: why it runs depends on the tests before this one.
    # The test driver makes up a lease for the VM's one NIC; a VM without NICs has no addresses.
    assert vm == entry(TEST_VM_UUID, "test", "running", vm["state_reason"], 2, 8388608, ("192.168.122.3",))
    assert vm["state_reason"] in {"unknown", "booted", "unpaused", "from_snapshot"}


def test_capabilities_describe_the_host(default_host: Host) -> None:
    caps = default_host.capabilities()

    assert caps["hypervisor"] == "TEST"
    assert caps["cpu_count"] == 16 and caps["memory_total_kib"] == 3072 * 1024
    assert caps["memory_free_kib"] > 0
    assert caps["libvirt_version"].count(".") == 2 and caps["agent_version"] == "0.1.0"
    assert caps["kvm_usable"] is False
    assert caps["serial_console"] is False  # the test driver cannot open a console (VIR_ERR_NO_SUPPORT)
    assert {"hostname", "cpu_model", "cpu_arch", "hypervisor_version"} <= set(caps)


def test_full_capabilities_add_pools_networks_and_topology(node_host: Host) -> None:
    caps = node_host.full_capabilities()

    assert caps["storage_pools"] == [{"name": "fv-pool", "type": "dir", "state": "running", "active": True,
                                      "autostart": False, "capacity_bytes": 107374182400,
                                      "allocation_bytes": caps["storage_pools"][0]["allocation_bytes"],
                                      "available_bytes": caps["storage_pools"][0]["available_bytes"],
                                      "path": "/fv-pool"}]
    assert caps["networks"] == []
    assert caps["qemu_version"] is None and caps["kvm_usable"] is False
    assert caps["cpu_count"] == 4 and caps["cpu_topology"] == {"numa_nodes": 1, "sockets_per_node": 1,
                                                                "cores_per_socket": 4, "threads_per_core": 1}


def test_node_file_host_lists_every_vm_sorted_by_name(node_host: Host) -> None:
    assert node_host.inventory() == [
        entry(CACHE1, "cache1", "paused", "unknown", 1, 524288),
        entry(DB1, "db1", "shutoff", "unknown", 4, 2097152),
        entry(WEB1, "web1", "running", "unknown", 2, 1048576),
    ]
    assert node_host.capabilities()["cpu_count"] == 4


@pytest.mark.parametrize(("method", "vm_uuid", "after", "reason"), [
    ("start", DB1, "running", "booted"),
    ("shutdown", WEB1, "shutoff", "shutdown"),
    ("force_stop", WEB1, "shutoff", "destroyed"),
    ("force_stop", CACHE1, "shutoff", "destroyed"),
    ("reboot", WEB1, "running", "booted"),
    ("reset", WEB1, "running", "unknown"),
    ("suspend", WEB1, "paused", "user"),
    ("resume", CACHE1, "running", "unpaused"),
])
def test_each_operation_changes_the_vm_state(node_host: Host, method: str, vm_uuid: str, after: str,
                                             reason: str) -> None:
    guest = node_host.guest(vm_uuid)

    getattr(guest, method)()

    assert guest.state() == after
    vm = {vm["uuid"]: vm for vm in node_host.inventory()}[vm_uuid]
    assert (vm["state"], vm["state_reason"]) == (after, reason)


@pytest.mark.parametrize(("method", "vm_uuid", "message"), [
    ("start", WEB1, "Cannot start VM 'web1': it is running."),
    ("start", CACHE1, "Cannot start VM 'cache1': it is paused."),
    ("resume", WEB1, "Cannot resume VM 'web1': it is running."),
    ("suspend", CACHE1, "Cannot suspend VM 'cache1': it is paused."),
    ("shutdown", DB1, "Cannot shut down VM 'db1': it is not running (shut off)."),
    ("shutdown", CACHE1, "Cannot shut down VM 'cache1': it is paused."),
    ("force_stop", DB1, "Cannot force-stop VM 'db1': it is not running (shut off)."),
    ("reboot", DB1, "Cannot reboot VM 'db1': it is not running (shut off)."),
    ("reboot", CACHE1, "Cannot reboot VM 'cache1': it is paused."),
    ("reset", DB1, "Cannot reset VM 'db1': it is not running (shut off)."),
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


@pytest.mark.parametrize(("case", "libvirt_error", "code"), libvirt_errors.rows("test"))
def test_each_libvirt_mistake_is_reported_with_its_stable_code(node_host: Host, case: str, libvirt_error: str | None,
                                                              code: str | None) -> None:
    scene = libvirt_errors.Scene(node_host, running=WEB1, shutoff=DB1, diskless=WEB1, pool="fv-pool",
                                 volume="db1.qcow2")
    libvirt_errors.check(scene, case, libvirt_error, code)


def test_every_entry_of_the_error_table_is_triggered_or_says_why_not() -> None:
    triggered = {getattr(libvirt, error) for by_driver in libvirt_errors.EXPECTED.values()
                 for error, _code in by_driver.values() if error is not None}
    untriggered = {getattr(libvirt, error) for error in libvirt_errors.UNTRIGGERED}

    assert set(ERRORS) - triggered == untriggered
    assert {code for by_driver in libvirt_errors.EXPECTED.values() for _error, code in by_driver.values()
            if code is not None} <= CODES


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


def test_every_libvirt_state_has_a_lowercase_name_and_reasons_are_words() -> None:
    assert sorted(STATES.values()) == sorted(
        ["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"])
    assert state_name(99) == "nostate"
    assert reason_name(libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED) == "destroyed"
    assert reason_name(libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT) == "from_snapshot"
    assert reason_name(libvirt.VIR_DOMAIN_RUNNING, 999) == "unknown"
    assert all(name.islower() and " " not in name for reasons in REASONS.values() for name in reasons.values())


# -- autostart, delete, snapshots, detail ---------------------------------------------------------

def test_autostart_is_set_and_cleared(node_host: Host) -> None:
    guest = node_host.guest(DB1)

    guest.set_autostart(True)
    on = guest.inventory_entry()["autostart"]
    guest.set_autostart(False)

    assert (on, guest.inventory_entry()["autostart"]) == (True, False)


def test_autostart_of_a_transient_vm_is_invalid_state(node_host: Host) -> None:
    conn = node_host.connection()
    conn.lookupByUUIDString(WEB1).undefine()  # running, so it lives on as a transient VM

    with pytest.raises(HypervisorError) as caught:
        node_host.guest(WEB1).set_autostart(True)

    assert caught.value.code == "invalid_state"
    assert "it is transient" in caught.value.message


def test_deleting_a_running_vm_is_refused_and_changes_nothing(node_host: Host) -> None:
    with pytest.raises(HypervisorError) as caught:
        node_host.guest(WEB1).delete(with_storage=True)

    assert (caught.value.code, caught.value.message) == (
        "invalid_state", "Cannot delete VM 'web1': it is running. Stop it first.")
    assert node_host.guest(WEB1).inventory_entry()["persistent"] is True


def test_delete_with_storage_removes_only_the_vms_pool_volumes(node_host: Host) -> None:
    pool = node_host.connection().storagePoolLookupByName("fv-pool")

    deleted, kept = node_host.guest(DB1).delete(with_storage=True)

    assert deleted == ["fv-pool/db1.qcow2", "fv-pool/db1-data.img"]
    assert kept == ["vdc (not a storage pool volume)", "hdc (cdrom)"]
    assert sorted(pool.listVolumes()) == ["install.iso"]
    assert DB1 not in {vm["uuid"] for vm in node_host.inventory()}


def test_delete_without_storage_keeps_every_volume(node_host: Host) -> None:
    pool = node_host.connection().storagePoolLookupByName("fv-pool")

    assert node_host.guest(DB1).delete(with_storage=False) == ([], [])
    assert sorted(pool.listVolumes()) == ["db1-data.img", "db1.qcow2", "install.iso"]


def test_delete_drops_snapshot_metadata_that_would_block_undefine(node_host: Host) -> None:
    guest = node_host.guest(DB1)
    guest.snapshots().create("before")

    guest.delete(with_storage=False)

    with pytest.raises(HypervisorError) as caught:
        node_host.guest(DB1)
    assert caught.value.code == "vm_not_found"


def test_snapshots_are_created_listed_reverted_and_deleted(node_host: Host) -> None:
    snapshots = node_host.guest(WEB1).snapshots()

    created = snapshots.create("s1", "first & <best>")
    node_host.guest(WEB1).force_stop()
    snapshots.create("s2")
    listed = snapshots.list()
    snapshots.revert("s1")
    state_after_revert = node_host.guest(WEB1).state()
    snapshots.delete("s2")

    assert created["name"] == "s1" and created["description"] == "first & <best>" and created["state"] == "running"
    assert [(s["name"], s["state"], s["current"]) for s in listed] == [("s1", "running", False),
                                                                        ("s2", "shutoff", True)]
    assert all(isinstance(s["created_at"], int) for s in listed)
    assert state_after_revert == "running"
    assert [s["name"] for s in snapshots.list()] == ["s1"]


@pytest.mark.parametrize(("action", "code", "message"), [
    ("create", "snapshot_exists", "VM 'web1' already has a snapshot named 's1'."),
    ("revert", "snapshot_not_found", "VM 'web1' has no snapshot named 'nope'."),
    ("delete", "snapshot_not_found", "VM 'web1' has no snapshot named 'nope'."),
])
def test_snapshot_mistakes_have_their_own_codes(node_host: Host, action: str, code: str, message: str) -> None:
    snapshots = node_host.guest(WEB1).snapshots()
    snapshots.create("s1")

    with pytest.raises(HypervisorError) as caught:
        getattr(snapshots, action)("s1" if action == "create" else "nope")

    assert (caught.value.code, caught.value.message) == (code, message)
    assert [s["name"] for s in snapshots.list()] == ["s1"]


def test_snapshot_xml_carries_text_as_text() -> None:
    xml = snapshot_xml("s1", "a</description><memory snapshot='external'/>", with_memory=False)

    assert xml == ("<domainsnapshot><name>s1</name><description>a&lt;/description&gt;&lt;memory "
                   "snapshot='external'/&gt;</description><memory snapshot=\"no\" /></domainsnapshot>")


def test_detail_lists_disks_nics_and_sizes(node_host: Host) -> None:
    detail = node_host.guest(DB1).detail()

    assert detail["state"] == "shutoff" and detail["uptime_seconds"] is None and detail["ips"] == []
    assert [(d["target"], d["device"], d["source"]) for d in detail["disks"]] == [
        ("vda", "disk", "/fv-pool/db1.qcow2"), ("vdb", "disk", "fv-pool/db1-data.img"),
        ("vdc", "disk", "/elsewhere/db1-scratch.img"), ("hdc", "cdrom", "/fv-pool/install.iso")]
    assert detail["disks"][0]["format"] == "qcow2" and isinstance(detail["disks"][0]["capacity_bytes"], int)
    assert detail["nics"] == [{"type": "network", "mac": "52:54:00:00:00:01", "network": "default", "bridge": None,
                               "model": "virtio", "target": "testnet0"}]
    assert detail["cpu_time_ns"] >= 0 and detail["current_memory_kib"] > 0


def test_uptime_counts_from_the_start_the_host_saw(default_host: Host) -> None:
    guest = default_host.guest(TEST_VM_UUID)
    guest.force_stop()
    guest.start()

    def started_seen() -> bool:
        return default_host.guest(TEST_VM_UUID).detail()["uptime_seconds"] is not None

    wait_until(started_seen)
    assert 0 <= default_host.guest(TEST_VM_UUID).detail()["uptime_seconds"] < 60
