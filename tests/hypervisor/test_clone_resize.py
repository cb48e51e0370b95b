"""vm.clone and vm.resize on real QEMU, on VMs of their own (the busybox test guest, 16 MiB qcow2 disk in the
`fleetvisor-test` pool)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from fleetvisor_agent import jobs
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.verify import VerifiedJob

from .conftest import RunJob
from .guest import (
    POOL,
    POOL_DIR,
    Image,
    QemuGuest,
    define_guest,
    disk_info,
    pool_volumes,
    remove_clone,
    virsh,
    virsh_fields,
)

GIB = 1024**3


@pytest.fixture
def source(image: Image) -> Iterator[QemuGuest]:
    made = define_guest(image)
    yield made
    made.remove()


@pytest.fixture
def clones() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        remove_clone(name)


def clone_job(host: Host, vm: QemuGuest, name: str, *, start: bool = False, job_id: str = "job_clone",
              attempt: int = 1, linked: bool = False) -> jobs.Result:
    args: dict[str, Any] = {"vm_uuid": vm.uuid, "name": name, "start": start, **({"linked": True} if linked else {})}
    assert jobs.args_valid("vm.clone", args)
    return jobs.run(VerifiedJob(job_id=job_id, agent_id="ag_qemu", op="vm.clone", args=args, issued_at=0,
                                expires_at=2**31, attempt=attempt, kid="k"), host)


def test_a_clone_gets_a_full_copy_of_each_disk_and_its_own_identity(
        host: Host, source: QemuGuest, clones: list[str]) -> None:
    name = f"{source.name}-clone"
    clones.append(name)

    result = clone_job(host, source, name, start=True)

    assert result.ok, result.summary
    data = result.document["data"]
    assert data["source_vm_uuid"] == source.uuid and data["vm_uuid"] != source.uuid
    assert data["disks"] == [{"target": "vda", "volume": f"{POOL}/{name}-vda.qcow2"}]
    assert result.vm is not None and result.vm["name"] == name and result.vm["state"] == "running"
    copy = disk_info(f"{name}-vda.qcow2")
    assert copy["format"] == "qcow2" and copy["virtual-size"] == 16 * 1024 * 1024 and "backing-filename" not in copy
    original, cloned = (ET.fromstring(virsh("dumpxml", vm, "--inactive")) for vm in (source.name, name))
    assert cloned.find("devices/disk/source").get("file") == str(POOL_DIR / f"{name}-vda.qcow2")  # type: ignore[union-attr]
    original_mac = original.find("devices/interface/mac").get("address")  # type: ignore[union-attr]
    assert cloned.find("devices/interface/mac").get("address") != original_mac  # type: ignore[union-attr]
    assert cloned.find("devices/serial/log") is None  # the source's log file stays the source's
    assert virsh("domstate", source.name) == "shut off"


def test_a_linked_clone_gets_overlays_backed_by_the_source_disks(
        host: Host, source: QemuGuest, clones: list[str]) -> None:
    name = f"{source.name}-linked"
    clones.append(name)

    result = clone_job(host, source, name, start=True, linked=True)

    assert result.ok, result.summary
    assert "linked to" in result.summary
    assert result.document["data"]["disks"] == [{"target": "vda", "volume": f"{POOL}/{name}-vda.qcow2"}]
    overlay = disk_info(f"{name}-vda.qcow2")
    source_disk = ET.fromstring(virsh("dumpxml", source.name, "--inactive")).find("devices/disk/source")
    assert overlay["format"] == "qcow2" and overlay["virtual-size"] == 16 * 1024 * 1024
    assert overlay["backing-filename"] == source_disk.get("file")  # type: ignore[union-attr]
    assert result.vm is not None and result.vm["state"] == "running"
    cloned = ET.fromstring(virsh("dumpxml", name, "--inactive"))
    assert cloned.find("devices/disk/driver").get("type") == "qcow2"  # type: ignore[union-attr]


def test_a_running_vm_is_not_cloned_and_nothing_is_made(host: Host, source: QemuGuest, clones: list[str]) -> None:
    source.start()
    before = pool_volumes()
    clones.append(f"{source.name}-clone")

    result = clone_job(host, source, f"{source.name}-clone")

    assert result.document["error"]["code"] == "invalid_state", result.summary
    assert pool_volumes() == before


def test_a_taken_name_is_refused_and_a_retry_reports_the_clone_it_made(
        host: Host, source: QemuGuest, guest: QemuGuest, clones: list[str]) -> None:
    name = f"{source.name}-clone"
    clones.append(name)
    first = clone_job(host, source, name, job_id="job_clone_retry")

    taken = clone_job(host, source, guest.name)
    again = clone_job(host, source, name, job_id="job_clone_retry", attempt=2)
    other = clone_job(host, source, name, job_id="job_clone_other", attempt=2)

    assert taken.document["error"]["code"] == "name_taken"
    assert again.ok and again.document["data"]["already_done"] is True
    assert again.document["data"]["vm_uuid"] == first.document["data"]["vm_uuid"]
    assert other.document["error"]["code"] == "name_taken"


def test_a_shut_off_vm_is_resized_at_once(run: RunJob, source: QemuGuest) -> None:
    result = run("vm.resize", source, vcpus=2, memory_mib=192, disks=[{"target": "vda", "size_gib": 1}])

    assert result.ok, result.summary
    assert result.document["data"] == {"applies": "now", "disks": [
        {"target": "vda", "from_bytes": 16 * 1024 * 1024, "to_bytes": GIB}]}
    info = virsh_fields("dominfo", source.name)
    assert (info["CPU(s)"], info["Max memory"]) == ("2", "196608 KiB")
    assert disk_info(source.volume or "")["virtual-size"] == GIB


def test_a_running_vms_disk_grows_now_and_its_memory_at_the_next_boot(run: RunJob, source: QemuGuest) -> None:
    source.start()
    source.wait_ready()

    result = run("vm.resize", source, memory_mib=160, disks=[{"target": "vda", "size_gib": 1}])

    assert result.ok, result.summary
    assert result.document["data"]["applies"] == "next_boot"
    assert virsh_fields("domblkinfo", source.name, "vda")["Capacity"] == str(GIB)  # QEMU's view, live
    assert virsh_fields("dominfo", source.name)["Max memory"] == "131072 KiB"  # unchanged until it boots again
    defined = ET.fromstring(virsh("dumpxml", source.name, "--inactive"))
    assert defined.findtext("memory") == str(160 * 1024)


def test_a_disk_never_shrinks_and_nothing_else_changes_then(run: RunJob, source: QemuGuest) -> None:
    run("vm.resize", source, disks=[{"target": "vda", "size_gib": 2}])

    result = run("vm.resize", source, vcpus=3, disks=[{"target": "vda", "size_gib": 1}])

    assert result.document["error"]["code"] == "operation_unsupported" and "only grow" in result.summary
    assert virsh_fields("dominfo", source.name)["CPU(s)"] == "1"
    assert disk_info(source.volume or "")["virtual-size"] == 2 * GIB


def test_resize_needs_something_to_change() -> None:
    uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
    assert not jobs.args_valid("vm.resize", {"vm_uuid": uuid})
    assert not jobs.args_valid("vm.resize", {"vm_uuid": uuid, "disks": []})
    assert not jobs.args_valid("vm.resize", {"vm_uuid": uuid, "disks": [{"target": "vda; rm", "size_gib": 2}]})
    assert jobs.args_valid("vm.resize", {"vm_uuid": uuid, "vcpus": 2})
