"""vm.snapshot_create, vm.snapshot_list, vm.snapshot_revert, vm.snapshot_delete: one VM's internal snapshots."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import SNAPSHOT_NAME, VM_ONLY, VM_UUID, ArgsSchema, Outcome, Result, Text, run_on_vm

MAX_DESCRIPTION_CHARS = 1000

NAMED = ArgsSchema({"vm_uuid": VM_UUID, "name": SNAPSHOT_NAME})
OPS: Mapping[str, ArgsSchema] = {
    "vm.snapshot_create": ArgsSchema({"vm_uuid": VM_UUID, "name": SNAPSHOT_NAME},
                                     optional={"description": Text(MAX_DESCRIPTION_CHARS)}),
    "vm.snapshot_list": VM_ONLY,
    "vm.snapshot_revert": NAMED,
    "vm.snapshot_delete": NAMED,
}


def handle(job: VerifiedJob, host: Host) -> Result:
    return run_on_vm(job, host, ACTIONS[job.op])


def _create(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    snapshot = guest.snapshots().create(args["name"], args.get("description"))
    memory = " with its memory" if snapshot["state"] == "running" else ""
    return Outcome(summary=f"VM {guest.name!r} has a new snapshot {snapshot['name']!r}{memory}.")


def _list(guest: Guest, _args: Mapping[str, Any]) -> Outcome:
    snapshots = guest.snapshots().list()
    return Outcome(data={"snapshots": snapshots},
                   summary=f"VM {guest.name!r} has {len(snapshots)} snapshot{'' if len(snapshots) == 1 else 's'}.")


def _revert(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    guest.snapshots().revert(args["name"])
    return Outcome(summary=f"VM {guest.name!r} was reverted to snapshot {args['name']!r}; it is {guest.state()}.")


def _delete(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    guest.snapshots().delete(args["name"])
    return Outcome(summary=f"Snapshot {args['name']!r} of VM {guest.name!r} was deleted.")


ACTIONS: Mapping[str, Callable[[Guest, Mapping[str, Any]], Outcome | None]] = {
    "vm.snapshot_create": _create,
    "vm.snapshot_list": _list,
    "vm.snapshot_revert": _revert,
    "vm.snapshot_delete": _delete,
}
