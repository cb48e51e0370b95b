"""vm.detail and host.capabilities against qemu:///system."""

from __future__ import annotations

from .conftest import RunJob
from .guest import POOL, POOL_DIR, QemuGuest, virsh


def test_detail_of_a_running_guest(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()

    result = run("vm.detail", guest)

    detail = result.document["data"]
    assert result.exit_code == 0, result.summary
    assert (detail["uuid"], detail["name"], detail["state"], detail["persistent"]) == (
        guest.uuid, guest.name, "running", True)
    assert (detail["vcpus"], detail["memory_kib"]) == (1, 128 * 1024)
    [disk] = detail["disks"]
    assert (disk["target"], disk["bus"], disk["format"], disk["source"]) == (
        "vda", "virtio", "qcow2", str(POOL_DIR / str(guest.volume)))
    assert disk["capacity_bytes"] == 16 * 1024 * 1024 and disk["allocation_bytes"] > 0
    [nic] = detail["nics"]
    assert (nic["type"], nic["mac"], nic["model"]) == ("user", "52:54:00:f0:00:01", "virtio")
    assert detail["ips"] == []  # no guest agent, no libvirt network: nothing to tell
    assert detail["cpu_time_ns"] > 0
    assert detail["uptime_seconds"] is None or detail["uptime_seconds"] >= 0


def test_detail_of_a_stopped_guest_still_measures_its_disk(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_shut_off()

    detail = run("vm.detail", guest).document["data"]

    assert (detail["state"], detail["state_reason"], detail["uptime_seconds"]) == ("shutoff", "destroyed", None)
    assert detail["disks"][0]["capacity_bytes"] == 16 * 1024 * 1024


def test_host_capabilities(run: RunJob) -> None:
    result = run("host.capabilities")

    caps = result.document["data"]
    assert result.exit_code == 0, result.summary
    assert caps["hypervisor"] == "QEMU" and caps["qemu_version"] == caps["hypervisor_version"]
    assert caps["qemu_version"].startswith(virsh("version").split("QEMU ")[-1].split(".")[0] + ".")
    assert caps["libvirt_version"] in virsh("version")
    assert isinstance(caps["kvm_usable"], bool)
    assert caps["serial_console"] is True
    assert caps["memory_total_kib"] >= caps["memory_free_kib"] > 0 and caps["cpu_count"] >= 1
    pool = next(p for p in caps["storage_pools"] if p["name"] == POOL)
    assert (pool["active"], pool["path"], pool["type"]) == (True, str(POOL_DIR), "dir")
    assert pool["capacity_bytes"] >= pool["available_bytes"] > 0
    assert all({"name", "active", "bridge"} <= set(n) for n in caps["networks"])
