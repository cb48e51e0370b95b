"""vm.set_autostart and vm.delete on qemu:///system, checked with `virsh dominfo`, `list` and `vol-list`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import RunJob
from .guest import POOL, Image, QemuGuest, define_guest, pool_volumes, virsh, virsh_fields


def defined_vms() -> list[str]:
    return virsh("list", "--all", "--name").split()


def test_set_autostart_on_and_off(guest: QemuGuest, run: RunJob) -> None:
    on = run("vm.set_autostart", guest, autostart=True)
    autostart_on = virsh_fields("dominfo", guest.name)["Autostart"]
    off = run("vm.set_autostart", guest, autostart=False)

    assert (on.exit_code, on.vm and on.vm["autostart"], autostart_on) == (0, True, "enable")
    assert (off.exit_code, virsh_fields("dominfo", guest.name)["Autostart"]) == (0, "disable")


def test_delete_refuses_a_running_vm(guest: QemuGuest, run: RunJob) -> None:
    guest.ensure_running_ready()

    result = run("vm.delete", guest, delete_storage=True, confirm=guest.name)

    assert (result.exit_code, result.document["error"]["message"]) == (
        1, f"Cannot delete VM {guest.name!r}: it is running. Stop it first.")
    assert guest.name in defined_vms() and guest.volume in pool_volumes()
    assert virsh_fields("dominfo", guest.name)["Persistent"] == "yes"  # QEMU would have made it transient


@pytest.fixture
def doomed(image: Image) -> Iterator[QemuGuest]:
    """A VM of its own to delete (never started), removed anyway if the test fails half-way."""
    vm = define_guest(image)
    yield vm
    vm.remove()


def test_delete_with_a_wrong_confirmation_deletes_nothing(doomed: QemuGuest, run: RunJob) -> None:
    result = run("vm.delete", doomed, delete_storage=True, confirm=doomed.name.upper())

    assert (result.exit_code, result.document["error"]["code"]) == (1, "confirmation_mismatch")
    assert doomed.name in defined_vms() and doomed.volume in pool_volumes()


def test_delete_with_storage_removes_the_vm_its_snapshots_and_its_volume(doomed: QemuGuest, run: RunJob) -> None:
    assert run("vm.snapshot_create", doomed, name="before-delete").exit_code == 0  # undefine must drop it too

    result = run("vm.delete", doomed, delete_storage=True, confirm=doomed.name)

    assert result.exit_code == 0, result.summary
    assert result.summary == f"vm.delete: VM {doomed.name!r} was deleted; volumes deleted: {POOL}/{doomed.volume}."
    assert result.vm is None
    assert doomed.name not in defined_vms()
    assert doomed.volume not in pool_volumes()


def test_delete_without_storage_keeps_the_volume(doomed: QemuGuest, run: RunJob) -> None:
    result = run("vm.delete", doomed, delete_storage=False, confirm=doomed.name)

    assert (result.exit_code, result.summary) == (0, f"vm.delete: VM {doomed.name!r} was deleted.")
    assert doomed.name not in defined_vms()
    assert doomed.volume in pool_volumes()  # removed by the fixture
