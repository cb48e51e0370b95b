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

The fleet list (`GET /api/vms`, `fleet_page`): every VM of one owner on all
their hosts, by name, from the table's `by_owner` index: one Query per page
(default 500 VMs, at most 1,000), never one request per host and never a
scan of other owners' items. Its filters (`search`, `state`, `agent_id`,
`label`) are applied to what the page read, as a DynamoDB filter would be, so a
filtered page may hold fewer VMs than asked (even none) and still have a
`next_cursor`; a filtered page reads at most `SCAN_BUDGET` VMs. The index is
eventually consistent: a VM changed a moment ago may show its old state for
that moment (the per-host list reads consistently).

Labels (`set_labels`) live on the VM's item, keyed by host and UUID, so a VM
renamed in libvirt keeps them. Heartbeats write only the fields they report
(`sync_inventory` updates a changed VM in place rather than putting the item
again), so a heartbeat can never put back labels an operator just changed.
A VM that disappears from its host's report is deleted with its labels.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
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
MAX_ADDRESSES = 32
# What a heartbeat reports of each VM besides its UUID (stored and compared), and what a job may change.
REPORTED = ("name", "state", "state_reason", "vcpus", "memory_kib", "autostart", "persistent", "addresses")
# A job that starts a VM also sees the addresses it has then (none yet, on a fresh DHCP lease): written
# with the state, so the heartbeat after the job finds nothing to write.
JOB_FIELDS = ("state", "state_reason", "autostart", "persistent", "addresses")


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
            "autostart": _flag(item, "autostart"), "persistent": _flag(item, "persistent"),
            "addresses": _addresses(item)}


def _addresses(item: dict[str, Any]) -> list[str] | None:
    """The VM's IP addresses, normalised and sorted (so a reordering is no change); None: not reported."""
    if item.get("addresses") is None:
        return None
    listed = validate.array(item, "addresses", max_items=MAX_ADDRESSES)
    try:
        return sorted({str(ipaddress.ip_address(address)) for address in listed if len(address) <= 64})
    except (TypeError, ValueError) as exc:
        raise Invalid("'addresses' must list IP addresses.") from exc


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
            if old is None:
                batch.save(Vm(agent_id, report["uuid"], owner_id=owner_id, updated_ms=now,
                              **{name: report[name] for name in REPORTED}))
                changed = True
            elif _differs(old, report):
                _update_reported(old, report, now)
                changed = True
        for gone in stored.values():
            batch.delete(gone)
            changed = True
    return changed


def _update_reported(vm: Vm, report: dict[str, Any], now_ms: int) -> None:
    """Write what the host reports of a VM, in place: never a whole item, which would put back labels an
    operator changed since the inventory was read."""
    actions = [getattr(Vm, name).set(report[name]) if report[name] is not None else getattr(Vm, name).remove()
               for name in REPORTED]
    vm.update(actions=[*actions, Vm.updated_ms.set(now_ms)])


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


def set_labels(vm: Vm, labels: dict[str, str]) -> Vm:
    """Replace the VM's labels (one conditional write: a VM its host stopped reporting meanwhile is gone)."""
    with store.race() as change:
        vm.update(actions=[Vm.labels.set(labels)], condition=Vm.vm_uuid.exists())
    if change.lost:
        raise NotFound("No such VM on this host.", "vm_not_found")
    return vm


SCAN_BUDGET = 5000  # VMs one filtered fleet page reads at most
LABEL_FILTER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}(=[^\x00-\x1f\x7f]{0,200})?\Z")


@dataclass(frozen=True)
class FleetFilter:
    """What `GET /api/vms` narrows the fleet to; every given part must match."""

    search: str = ""  # in the name, UUID, host name, state, an address or a label (key=value), any case
    state: str = ""
    agent_id: str = ""
    label: str = ""  # a key, or key=value

    @classmethod
    def parse(cls, query: Callable[[str], str | None]) -> FleetFilter:
        state, label = query("state") or "", query("label") or ""
        if state and state not in STATES:
            raise Invalid(f"'state' must be one of {', '.join(STATES)}.")
        if label and not LABEL_FILTER_RE.match(label):
            raise Invalid("'label' must be a label key, or key=value.")
        search = query("search") or ""
        if len(search) > 200:
            raise Invalid("'search' must be at most 200 characters.")
        return cls(search.casefold(), state, (query("agent_id") or "")[:64], label)

    def __bool__(self) -> bool:
        return bool(self.search or self.state or self.agent_id or self.label)

    def matches(self, vm: dict[str, Any], host_name: str) -> bool:
        """Whether a VM (as `view` answers it) on the host called `host_name` passes."""
        labels = [f"{key}={value}" for key, value in vm["labels"].items()]
        if self.state and vm["state"] != self.state or self.agent_id and vm["agent_id"] != self.agent_id:
            return False
        if self.label and not (self.label in labels if "=" in self.label else self.label in vm["labels"]):
            return False
        words = [vm["name"], vm["uuid"], host_name, vm["state"], *(vm["addresses"] or []), *labels]
        return not self.search or any(self.search in word.casefold() for word in words)


FLEET_KEY = ("owner_id", "name", "agent_id", "vm_uuid")  # where a page of the by_owner index resumes


def fleet_page(owner_id: str, host_names: dict[str, str], narrow: FleetFilter, *, limit: int,
               start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to `limit` of the owner's VMs by name (as `view` answers them), from `start` on, on the hosts in
    `host_names` (their approved hosts, by id) and matching `narrow`; and where the next page starts
    (None: no more). Items are read raw and viewed straight from DynamoDB's form: a page of 1,000 VMs
    costs a third less CPU than making a model of each (bench/fleet_list.py)."""
    found: list[dict[str, Any]] = []
    budget = SCAN_BUDGET if narrow else limit
    while budget > 0:
        with store.busy_if_throttled():
            page = Vm._get_connection().query(owner_id, index_name=Vm.by_owner.Meta.index_name,
                                               limit=budget, exclusive_start_key=start)
        for item in page.get("Items", []):
            vm = view_of(item)
            if vm["agent_id"] in host_names and narrow.matches(vm, host_names[vm["agent_id"]]):
                found.append(vm)
                if len(found) == limit:
                    return found, {name: item[name] for name in FLEET_KEY}
        start = page.get("LastEvaluatedKey")
        budget -= int(page.get("Count", 0))
        if start is None:
            return found, None
    return found, start


def view(vm: Vm) -> dict[str, Any]:
    return view_of(vm.serialize())


def view_of(item: dict[str, Any]) -> dict[str, Any]:
    """A VM as the API answers it, from its item in DynamoDB's form; `state_reason`, `autostart`,
    `persistent` and `addresses` are null when unknown (models.Vm says how each is stored)."""
    def value(name: str, kind: str) -> Any:
        return item.get(name, {}).get(kind)

    labels = value("labels", "S")
    addresses = value("addresses", "L")
    return {"agent_id": value("agent_id", "S"), "uuid": value("vm_uuid", "S"), "name": value("name", "S"),
            "state": value("state", "S"), "state_reason": value("state_reason", "S"),
            "vcpus": int(value("vcpus", "N") or 0), "memory_kib": int(value("memory_kib", "N") or 0),
            "autostart": value("autostart", "BOOL"), "persistent": value("persistent", "BOOL"),
            "updated_ms": int(value("updated_ms", "N") or 0), "labels": json.loads(labels) if labels else {},
            "addresses": None if addresses is None else [address["S"] for address in addresses]}


def _now_ms() -> int:
    return int(time.time() * 1000)

