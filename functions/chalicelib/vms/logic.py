"""The VM inventory: synced from heartbeats, looked up by name or UUID, and
updated at once when a job reports a VM's new state.

How a path names a VM (`/api/agents/{id}/vms/{vm}`, its actions, its console):
by its UUID (any case), which always works, or by a name that keeps to
`validate.LIBVIRT_NAME_RE`: 1 to 64 letters, digits and `. _ -`, a letter or
digit first (virt-install's historical rule, the same as for snapshot names).
libvirt itself refuses only '/' and newlines in a domain name, so a VM may be
called `$(id)`, `x<y>`, something with spaces or NULs, or something a megabyte
long; such a name answers 400 `invalid_vm_name` before the VM is looked up, and
never reaches a job, the agent or libvirt. Those VMs are still listed (their
names are only ever shown as text) and are addressed by UUID, as the web app
always does.
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import DoesNotExist

from .. import validate
from ..errors import Invalid, NotFound
from .models import Vm

STATES = ("running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended", "nostate")
MAX_VMS = 5000
MAX_VM_NAME = 200  # libvirt allows long names; they are only ever shown as text


def parse_report(item: Any) -> dict[str, Any]:
    """One VM as an agent reports it, checked field by field."""
    if not isinstance(item, dict):
        raise Invalid("Each VM must be an object.")
    state = validate.text(item, "state", max_len=20)
    if state not in STATES:
        raise Invalid(f"'state' must be one of {', '.join(STATES)}.")
    return {"uuid": validate.text(item, "uuid", max_len=36, pattern=validate.UUID_RE),
            "name": validate.text(item, "name", max_len=MAX_VM_NAME), "state": state,
            "vcpus": validate.integer(item, "vcpus", low=0, high=4096) if "vcpus" in item else 0,
            "memory_kib": validate.integer(item, "memory_kib", low=0, high=2**50) if "memory_kib" in item else 0}


def sync_inventory(agent_id: str, owner_id: str, reports: list[dict[str, Any]]) -> None:
    """Make the stored inventory equal the report, writing only what changed."""
    now = _now_ms()
    stored = {vm.vm_uuid: vm for vm in Vm.query(agent_id)}
    with Vm.batch_write() as batch:
        for report in reports:
            old = stored.pop(report["uuid"], None)
            if old is None or _differs(old, report):
                batch.save(Vm(agent_id, report["uuid"], owner_id=owner_id, name=report["name"],
                              state=report["state"], vcpus=report["vcpus"],
                              memory_kib=report["memory_kib"], updated_ms=now))
        for gone in stored.values():
            batch.delete(gone)


def _differs(vm: Vm, report: dict[str, Any]) -> bool:
    return (vm.name, vm.state, vm.vcpus, vm.memory_kib) != (
        report["name"], report["state"], report["vcpus"], report["memory_kib"])


def set_state(agent_id: str, vm_uuid: str, state: str) -> None:
    if state not in STATES:
        return
    try:
        Vm(agent_id, vm_uuid).update(actions=[Vm.state.set(state), Vm.updated_ms.set(_now_ms())],
                                     condition=Vm.vm_uuid.exists())
    except Exception:  # noqa: BLE001 - a VM deleted meanwhile is re-reported by the next heartbeat
        return


def list_vms(agent_id: str) -> list[Vm]:
    return sorted(Vm.query(agent_id), key=lambda vm: vm.name)


def find(agent_id: str, name_or_uuid: str, known: Vm | None = None) -> Vm:
    """A VM of this host by UUID or by exact name; `known`: the VM already read by that UUID."""
    if known is not None:
        return known
    if not validate.LIBVIRT_NAME_RE.match(name_or_uuid):  # a UUID keeps to it too
        raise Invalid("Name a VM by its UUID, or by a name of 1 to 64 letters, digits, '.', '_' or '-' that "
                      "starts with a letter or digit.", "invalid_vm_name")
    if validate.UUID_RE.match(name_or_uuid.lower()):
        try:
            return Vm.get(agent_id, name_or_uuid.lower())
        except DoesNotExist:
            pass
    for vm in Vm.query(agent_id, filter_condition=Vm.name == name_or_uuid):
        return vm
    raise NotFound(f"No VM '{name_or_uuid[:100]}' on this host.", "vm_not_found")


def view(vm: Vm) -> dict[str, Any]:
    return {"agent_id": vm.agent_id, "uuid": vm.vm_uuid, "name": vm.name, "state": vm.state,
            "vcpus": int(vm.vcpus), "memory_kib": int(vm.memory_kib), "updated_ms": int(vm.updated_ms)}


def _now_ms() -> int:
    return int(time.time() * 1000)

