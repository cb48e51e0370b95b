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

import functools
import logging
import operator
import time
from typing import Any

from .. import store, validate
from ..errors import Invalid, NotFound, StoreBusy
from .models import Vm

log = logging.getLogger("fleetvisor.vms")

STATES = ("running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended", "nostate")
MAX_VMS = 5000
MAX_VM_NAME = 200  # libvirt allows long names; they are only ever shown as text
# Why a VM is in its state: libvirt's reason names as the agent words them (its translate.REASONS),
# and "unknown" for a reason it cannot name.
REASONS = frozenset({
    "booted", "migrated", "restored", "from_snapshot", "unpaused", "migration_canceled", "save_canceled",
    "wakeup", "crashed", "postcopy", "user", "migration", "save", "dump", "ioerror", "watchdog",
    "shutting_down", "snapshot", "starting_up", "postcopy_failed", "shutdown", "destroyed", "saved", "failed",
    "daemon", "panicked", "unknown"})
REASON_RE = validate.form(r"^[a-z][a-z_]{0,39}\Z", "a lowercase word of letters and '_' (at most 40)")
MAX_REASON = 40
# What a heartbeat reports of each VM besides its UUID (stored and compared), and what a job may change.
REPORTED = ("name", "state", "state_reason", "vcpus", "memory_kib", "autostart", "persistent")
JOB_FIELDS = ("state", "state_reason", "autostart", "persistent")


def parse_report(item: Any) -> dict[str, Any]:
    """One VM as an agent reports it, checked field by field (None: a field the agent did not send)."""
    if not isinstance(item, dict):
        raise Invalid("Each VM must be an object.")
    state = validate.text(item, "state", max_len=20)
    if state not in STATES:
        raise Invalid(f"'state' must be one of {', '.join(STATES)}.")
    return {"uuid": validate.text(item, "uuid", max_len=36, pattern=validate.UUID_RE),
            "name": validate.text(item, "name", max_len=MAX_VM_NAME), "state": state,
            "state_reason": _reason(item),
            "vcpus": validate.integer(item, "vcpus", low=0, high=4096) if "vcpus" in item else 0,
            "memory_kib": validate.integer(item, "memory_kib", low=0, high=2**50) if "memory_kib" in item else 0,
            "autostart": _flag(item, "autostart"), "persistent": _flag(item, "persistent")}


def _reason(item: dict[str, Any]) -> str | None:
    if item.get("state_reason") is None:
        return None
    reason = validate.text(item, "state_reason", max_len=MAX_REASON, pattern=REASON_RE)
    # A reason of a newer libvirt must not fail the whole heartbeat: it shows as the agent shows the
    # reasons it cannot name itself.
    return reason if reason in REASONS else "unknown"


def _flag(item: dict[str, Any], name: str) -> bool | None:
    return None if item.get(name) is None else validate.boolean(item, name)


def sync_inventory(agent_id: str, owner_id: str, reports: list[dict[str, Any]]) -> bool:
    """Make the stored inventory equal the report, writing only what changed; whether anything did."""
    now = _now_ms()
    stored = {vm.vm_uuid: vm for vm in Vm.query(agent_id, consistent_read=True)}
    changed = False
    with Vm.batch_write() as batch:
        for report in reports:
            old = stored.pop(report["uuid"], None)
            if old is None or _differs(old, report):
                batch.save(Vm(agent_id, report["uuid"], owner_id=owner_id, updated_ms=now,
                              **{name: report[name] for name in REPORTED}))
                changed = True
        for gone in stored.values():
            batch.delete(gone)
            changed = True
    return changed


def _differs(vm: Vm, report: dict[str, Any]) -> bool:
    return any(getattr(vm, name) != report[name] for name in REPORTED)


def record_job_report(agent_id: str, vm_uuid: str, item: Any) -> bool:
    """The VM as a finished job saw it (`complete.vm`); whether the stored VM changed.

    Only the fields the job can change and the agent sent are written. A report that does not
    parse is dropped rather than failing the completion: the job's outcome stands and the next
    heartbeat puts the inventory right. One conditional write, no read: the condition both skips a VM
    deleted meanwhile (the next heartbeat re-reports it) and tells "already so" from a change.
    """
    try:
        report = parse_report(item)
    except Invalid:
        return False
    fields = {name: report[name] for name in JOB_FIELDS if report[name] is not None}
    if report["uuid"] != vm_uuid:
        return False
    same = functools.reduce(operator.and_, [getattr(Vm, name) == value for name, value in fields.items()])
    actions = [getattr(Vm, name).set(value) for name, value in fields.items()] + [Vm.updated_ms.set(_now_ms())]
    try:
        with store.race() as change:
            Vm(agent_id, vm_uuid).update(actions=actions, condition=Vm.vm_uuid.exists() & ~same)
    except StoreBusy:
        # The job's outcome is stored already: a 503 now would have the agent report it again, into a
        # 409. Like a report that does not parse, it is dropped; the next heartbeat puts it right.
        log.warning("VM state from a job report dropped, the store is throttling: agent_id=%s vm=%s",
                    agent_id, vm_uuid)
        return False
    return not change.lost


def list_vms(agent_id: str) -> list[Vm]:
    # Consistent: a page refreshing right after a heartbeat or a job wrote a VM must read what was written.
    return sorted(Vm.query(agent_id, consistent_read=True), key=lambda vm: vm.name)


def find(agent_id: str, name_or_uuid: str, known: Vm | None = None) -> Vm:
    """A VM of this host by UUID or by exact name; `known`: the VM already read by that UUID."""
    if known is not None:
        return known
    if not validate.LIBVIRT_NAME_RE.match(name_or_uuid):  # a UUID keeps to it too
        raise Invalid("Name a VM by its UUID, or by a name of 1 to 64 letters, digits, '.', '_' or '-' that "
                      "starts with a letter or digit.", "invalid_vm_name")
    by_uuid = store.get_or_none(Vm, agent_id, name_or_uuid.lower()) \
        if validate.UUID_RE.match(name_or_uuid.lower()) else None
    if by_uuid is not None:
        return by_uuid
    for vm in Vm.query(agent_id, filter_condition=Vm.name == name_or_uuid):
        return vm
    raise NotFound(f"No VM '{name_or_uuid[:100]}' on this host.", "vm_not_found")


def view(vm: Vm) -> dict[str, Any]:
    """A VM as the API answers it; `state_reason`, `autostart` and `persistent` are null when unknown."""
    return {"agent_id": vm.agent_id, "uuid": vm.vm_uuid, "name": vm.name, "state": vm.state,
            "state_reason": vm.state_reason, "vcpus": int(vm.vcpus), "memory_kib": int(vm.memory_kib),
            "autostart": vm.autostart, "persistent": vm.persistent, "updated_ms": int(vm.updated_ms)}


def _now_ms() -> int:
    return int(time.time() * 1000)

