"""vm.set_autostart and vm.delete: how the host keeps a VM, and forgetting it.

vm.delete is the one operation that destroys data, so it asks twice: the
operator must name the VM (`confirm`), and the VM must be stopped. With
`delete_storage` its disks that are libvirt storage-pool volumes go too
(hypervisor/storage.py says which those are); the summary names what was
deleted and what was kept. Snapshot metadata, a managed save image and NVRAM
go with the VM: libvirt would refuse to undefine it otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..hypervisor.errors import CONFIRMATION_MISMATCH, HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import VM_UUID, ArgsSchema, Flag, Outcome, Result, Text, run_on_vm

MAX_CONFIRM_CHARS = 1000  # it is compared with the VM's name, never passed on

OPS: Mapping[str, ArgsSchema] = {
    "vm.set_autostart": ArgsSchema({"vm_uuid": VM_UUID, "autostart": Flag()}),
    "vm.delete": ArgsSchema({"vm_uuid": VM_UUID, "delete_storage": Flag(),
                             "confirm": Text(MAX_CONFIRM_CHARS, min_chars=1)}),
}


def handle(job: VerifiedJob, host: Host) -> Result:
    return run_on_vm(job, host, ACTIONS[job.op])


def _set_autostart(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    autostart = bool(args["autostart"])
    guest.set_autostart(autostart)
    return Outcome(summary=f"VM {guest.name!r} will {'' if autostart else 'not '}start with the host.")


def _delete(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    if args["confirm"] != guest.name:
        raise HypervisorError(CONFIRMATION_MISMATCH, f"The confirmation {args['confirm']!r} is not the VM's name "
                                                     f"{guest.name!r}; nothing was deleted.")
    deleted, kept = guest.delete(with_storage=bool(args["delete_storage"]))
    summary = f"VM {guest.name!r} was deleted"
    if args["delete_storage"]:
        summary += f"; volumes deleted: {', '.join(deleted) or 'none'}"
        if kept:
            summary += f"; disks kept: {', '.join(kept)}"
    return Outcome(summary=summary + ".", vm_gone=True)


ACTIONS: Mapping[str, Callable[[Guest, Mapping[str, Any]], Outcome | None]] = {
    "vm.set_autostart": _set_autostart,
    "vm.delete": _delete,
}
