"""Internal snapshots of a real QEMU guest: create, list, revert, delete, checked with `virsh snapshot-list`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import RunJob
from .guest import Image, QemuGuest, define_guest, virsh, virsh_fields


def snapshot_names(guest: QemuGuest) -> list[str]:
    return sorted(virsh("snapshot-list", guest.name, "--name").split())


def test_snapshot_of_a_running_vm_is_listed_reverted_to_and_deleted(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()

    created = run("vm.snapshot_create", guest, name="s1", description="booted & <ready>")
    listed_by_virsh = snapshot_names(guest)
    info = virsh_fields("snapshot-info", guest.name, "s1")
    listed = run("vm.snapshot_list", guest)
    run("vm.force_stop", guest)
    reverted = run("vm.snapshot_revert", guest, name="s1")
    state_after_revert = guest.state_with_reason()
    deleted = run("vm.snapshot_delete", guest, name="s1")

    assert created.exit_code == 0, created.summary
    assert listed_by_virsh == ["s1"]
    assert (info["State"], info["Location"]) == ("running", "internal")
    [snapshot] = listed.document["data"]["snapshots"]
    assert (snapshot["name"], snapshot["description"], snapshot["state"], snapshot["current"]) == (
        "s1", "booted & <ready>", "running", True)
    assert reverted.exit_code == 0, reverted.summary
    assert reverted.vm is not None and reverted.vm["state"] == "running"
    assert state_after_revert == "running (from snapshot)"  # memory and all: no boot
    assert deleted.exit_code == 0 and snapshot_names(guest) == []


def test_snapshot_of_a_stopped_vm_is_disk_only(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_shut_off()

    created = run("vm.snapshot_create", guest, name="offline")
    info = virsh_fields("snapshot-info", guest.name, "offline")
    deleted = run("vm.snapshot_delete", guest, name="offline")

    assert created.exit_code == 0, created.summary
    assert (info["State"], info["Location"]) == ("shutoff", "internal")
    assert deleted.exit_code == 0 and snapshot_names(guest) == []


@pytest.mark.parametrize(("op", "name", "code"), [
    ("vm.snapshot_create", "taken", "snapshot_exists"),
    ("vm.snapshot_revert", "missing", "snapshot_not_found"),
    ("vm.snapshot_delete", "missing", "snapshot_not_found"),
])
def test_snapshot_mistakes(guest: QemuGuest, run: RunJob, op: str, name: str, code: str) -> None:
    guest.ensure_shut_off()
    run("vm.snapshot_create", guest, name="taken")
    try:
        result = run(op, guest, name=name)

        assert (result.exit_code, result.document["error"]["code"]) == (1, code)
        assert snapshot_names(guest) == ["taken"]
    finally:
        run("vm.snapshot_delete", guest, name="taken")


@pytest.fixture
def diskless_guest(image: Image) -> Iterator[QemuGuest]:
    diskless = define_guest(image, disk=False)
    yield diskless
    diskless.remove()


def test_a_vm_without_a_qcow2_disk_cannot_take_an_internal_snapshot(diskless_guest: QemuGuest,
                                                                    run: RunJob) -> None:
    # The test driver takes this snapshot; QEMU refuses (VIR_ERR_CONFIG_UNSUPPORTED): operation_unsupported.
    result = run("vm.snapshot_create", diskless_guest, name="s1")

    assert (result.exit_code, result.document["error"]["code"]) == (1, "operation_unsupported")
    assert snapshot_names(diskless_guest) == []
