"""Operator actions on a VM and the job each becomes: the operation and its
exact arguments, checked here at the edge (the agent checks them again).

Every action's arguments are built from checked fields only; nothing an
operator types reaches libvirt except through the agent's XML library, and
snapshot names keep to a conservative pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import validate
from ..errors import Conflict, Invalid
from .models import Vm

ArgsBuilder = Callable[[dict[str, Any], Vm], dict[str, Any]]


def _plain(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    return {"vm_uuid": vm.vm_uuid}


def _shutdown(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    args = _plain(body, vm)
    if body.get("timeout_seconds") is not None:
        args["timeout_seconds"] = validate.integer(body, "timeout_seconds", low=1, high=3600)
    return args


def _autostart(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    return {**_plain(body, vm), "autostart": validate.boolean(body, "autostart")}


def _delete(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    delete_storage = validate.boolean(body, "delete_storage")
    if body.get("confirm") != vm.name:
        raise Invalid("'confirm' must be the VM's name, to show the deletion is meant.", "confirmation_mismatch")
    return {**_plain(body, vm), "delete_storage": delete_storage, "confirm": vm.name}


def _snapshot_name(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    return {**_plain(body, vm), "name": validate.text(body, "name", max_len=64, pattern=validate.LIBVIRT_NAME_RE)}


def _snapshot_create(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    args = _snapshot_name(body, vm)
    description = validate.text(body, "description", max_len=1000, pattern=validate.LABEL_RE, required=False)
    if description:
        args["description"] = description
    return args


def _clone(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    """A copy of the VM under a new name the host does not have yet: its disks copied whole, or with `linked`
    as overlays backed by the source's disks (fast and small, but the source must then stay as it is)."""
    name = validate.text(body, "name", max_len=64, pattern=validate.LIBVIRT_NAME_RE)
    if any(True for _ in Vm.query(vm.agent_id, filter_condition=Vm.name == name)):
        raise Conflict(f"This host already has a VM named '{name}'.", "name_taken")
    args = {**_plain(body, vm), "name": name, "start": _flag(body, "start")}
    if _flag(body, "linked"):
        args["linked"] = True
    return args


def _flag(body: dict[str, Any], name: str) -> bool:
    return validate.boolean(body, name) if body.get(name) is not None else False


# What a resize may set: vCPUs, memory, and disks by target (each only grows; the agent checks).
RESIZE_BOUNDS = {"vcpus": (1, 256), "memory_mib": (128, 4 * 1024 * 1024)}
DISK_GIB = (1, 65536)
MAX_DISKS = 16
DISK_TARGET_RE = validate.form(r"^(vd|sd|hd|xvd)[a-z]{1,2}\Z", "a disk target such as vda or sdb")


def _resize(body: dict[str, Any], vm: Vm) -> dict[str, Any]:
    given: dict[str, Any] = {name: validate.integer(body, name, low=low, high=high)
                             for name, (low, high) in RESIZE_BOUNDS.items() if body.get(name) is not None}
    if body.get("disks") is not None:
        given["disks"] = _disk_sizes(validate.array(body, "disks", max_items=MAX_DISKS))
    if not given or given.get("disks") == []:
        raise Invalid(f"A resize sets at least one of {', '.join([*RESIZE_BOUNDS, 'disks'])}.", "nothing_to_resize")
    return {**_plain(body, vm), **given}


def _disk_sizes(disks: list[Any]) -> list[dict[str, Any]]:
    """[{"target", "size_gib"}], each target once."""
    sizes = []
    for disk in disks:
        if not isinstance(disk, dict):
            raise Invalid("Each of 'disks' must be an object with 'target' and 'size_gib'.")
        sizes.append({"target": validate.text(disk, "target", max_len=5, pattern=DISK_TARGET_RE),
                      "size_gib": validate.integer(disk, "size_gib", low=DISK_GIB[0], high=DISK_GIB[1])})
    if len({disk["target"] for disk in sizes}) != len(sizes):
        raise Invalid("'disks' names a target twice.")
    return sizes


ACTIONS: dict[str, tuple[str, ArgsBuilder]] = {
    "start": ("vm.start", _plain),
    "shutdown": ("vm.shutdown", _shutdown),
    "force-stop": ("vm.force_stop", _plain),
    "reboot": ("vm.reboot", _plain),
    "reset": ("vm.reset", _plain),
    "suspend": ("vm.suspend", _plain),
    "resume": ("vm.resume", _plain),
    "set-autostart": ("vm.set_autostart", _autostart),
    "delete": ("vm.delete", _delete),
    "snapshot-create": ("vm.snapshot_create", _snapshot_create),
    "snapshot-list": ("vm.snapshot_list", _plain),
    "snapshot-revert": ("vm.snapshot_revert", _snapshot_name),
    "snapshot-delete": ("vm.snapshot_delete", _snapshot_name),
    "detail": ("vm.detail", _plain),
    "clone": ("vm.clone", _clone),
    "resize": ("vm.resize", _resize),
}


def job_for(body: dict[str, Any], vm: Vm) -> tuple[str, str, dict[str, Any]]:
    """(action, operation, arguments) for a request body, or Invalid."""
    action = body.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise Invalid(f"'action' must be one of {', '.join(ACTIONS)}.", "invalid_action")
    op, build = ACTIONS[action]
    return action, op, build(body, vm)
