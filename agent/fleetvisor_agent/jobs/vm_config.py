"""vm.set_autostart, vm.resize and vm.delete: how the host keeps a VM, its size, and forgetting it.

vm.resize changes vCPUs and memory in the VM's definition (a running VM gets
them at its next boot: `data.applies` says "next_boot", else "now") and grows
disks at once (a running VM's through QEMU, so the guest sees the new size;
a shut-off VM's pool volume through libvirt's storage API). Disks only grow:
a smaller size is refused, and nothing is changed.

vm.delete is the one operation that destroys data, so it asks twice: the
operator must name the VM (`confirm`), and the VM must be stopped. With
`delete_storage` its disks that are libvirt storage-pool volumes go too
(hypervisor/storage.py says which those are); the summary names what was
deleted and what was kept. Snapshot metadata, a managed save image and NVRAM
go with the VM: libvirt would refuse to undefine it otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..hypervisor.errors import CONFIRMATION_MISMATCH, HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import VM_UUID, ArgsSchema, Flag, IntRange, ListOf, Outcome, Pattern, Result, Text, run_on_vm

MAX_CONFIRM_CHARS = 1000  # it is compared with the VM's name, never passed on
MAX_VCPUS = 256
MAX_MEMORY_MIB = 4 * 1024 * 1024
MAX_DISK_GIB = 65536
DISK_TARGET = Pattern(re.compile(r"(vd|sd|hd|xvd)[a-z]{1,2}"))
GIB = 1024**3

OPS: Mapping[str, ArgsSchema] = {
    "vm.set_autostart": ArgsSchema({"vm_uuid": VM_UUID, "autostart": Flag()}),
    "vm.resize": ArgsSchema({"vm_uuid": VM_UUID},
                            optional={"vcpus": IntRange(1, MAX_VCPUS), "memory_mib": IntRange(64, MAX_MEMORY_MIB),
                                      "disks": ListOf(ArgsSchema({"target": DISK_TARGET,
                                                                  "size_gib": IntRange(1, MAX_DISK_GIB)}), 1, 16)},
                            min_optional=1),
    "vm.delete": ArgsSchema({"vm_uuid": VM_UUID, "delete_storage": Flag(),
                             "confirm": Text(MAX_CONFIRM_CHARS, min_chars=1)}),
}


def handle(job: VerifiedJob, host: Host) -> Result:
    return run_on_vm(job, host, ACTIONS[job.op])


def _set_autostart(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    autostart = bool(args["autostart"])
    guest.set_autostart(autostart)
    return Outcome(summary=f"VM {guest.name!r} will {'' if autostart else 'not '}start with the host.")


def _resize(guest: Guest, args: Mapping[str, Any]) -> Outcome:
    disks = {str(disk["target"]): int(disk["size_gib"]) * GIB for disk in args.get("disks", [])}
    data = guest.resize(vcpus=args.get("vcpus"), memory_mib=args.get("memory_mib"), disks=disks)
    changes = [f"{args['vcpus']} vCPUs" if "vcpus" in args else "",
               f"{args['memory_mib']} MiB" if "memory_mib" in args else "",
               *(f"{disk['target']} {disk['to_bytes'] // GIB} GiB" for disk in data["disks"])]
    when = " (from its next boot)" if data["applies"] == "next_boot" else ""
    return Outcome(data=data, summary=f"VM {guest.name!r} now has {', '.join(c for c in changes if c) or 'no change'}"
                                      f"{when}.")


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
    "vm.resize": _resize,
    "vm.delete": _delete,
}
