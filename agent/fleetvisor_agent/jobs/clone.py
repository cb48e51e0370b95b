"""vm.clone: a new VM with full copies of a shut-off VM's disks.

Arguments: `vm_uuid` (the source), `name` (the new VM's, as vm.deploy's:
1-64 of [A-Za-z0-9._-]), `start` (bool: start the clone once defined),
`linked?` (bool: each disk a qcow2 overlay backed by the source's volume
instead of a whole copy: made in a moment and small, but the source's disks
must not change while the clone lives, or the clone's disks are corrupt).

The source must be shut off (a running VM's disks change while they are
copied): `invalid_state` otherwise. Each of its disks must be a libvirt
storage pool volume (`operation_unsupported` names those that are not); each
is copied whole, its backing chain flattened (a VM vm.deploy made as an
overlay on a cached image gets an independent disk), into the same pool as
`<name>-<target>.<ext>`, in its own format (a linked clone's are qcow2
overlays). CD-ROMs, and disks marked
shareable or read-only, are shared, not copied. The clone's definition is
the source's (inactive) one with its own name, no UUID and no MAC addresses
(libvirt makes new ones; a user-mode NIC, hypervisor/usernet.py, gets a new
MAC and loses its port forwards, which stay the source's), its NVRAM made afresh from the firmware's template,
no serial log files, and the job's id in its metadata, so a later attempt of
the same job reports the clone its earlier attempt made. A name already taken
(by a domain, or by a volume it would create) is `name_taken` before anything
is made; any later failure removes what the job made.

What the clone does not get new is inside the guest: its hostname, SSH host
keys and machine-id are the source's until the operator changes them; a TPM's
state is not copied (the clone starts with an empty one).

Result `data`: `{"vm_uuid", "name", "source_vm_uuid", "disks": [{"target",
"volume": "pool/name"}], "already_done"?}`; `vm` is the clone.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ..hypervisor import provision, storage, usernet
from ..hypervisor.errors import INVALID_STATE, OPERATION_UNSUPPORTED, HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import VM_UUID, ArgsSchema, Flag, Result, build_result, failed, ms_since
from .deploy import NAME, NAME_TAKEN, with_metadata

OPS: Mapping[str, ArgsSchema] = {"vm.clone": ArgsSchema({"vm_uuid": VM_UUID, "name": NAME, "start": Flag()},
                                                       optional={"linked": Flag()})}


def handle(job: VerifiedJob, host: Host) -> Result:
    started = time.monotonic()
    try:
        data, vm = _clone(job, host)
    except HypervisorError as exc:
        return failed(job, exc, None, started)
    how = "linked to" if job.args.get("linked") else "copied from"
    summary = f"VM {data['name']!r} is a clone of {data['source']!r} ({len(data['disks'])} disks {how} its own)."
    del data["source"]
    return build_result(job, summary=f"{job.op}: {summary}", vm=vm, error=None, data=data, exit_code=0,
                        duration_ms=ms_since(started))


def _clone(job: VerifiedJob, host: Host) -> tuple[dict[str, Any], dict[str, Any]]:
    conn = host.connection()
    source = provision.by_uuid(conn, str(job.args["vm_uuid"]))
    name = str(job.args["name"])
    existing = provision.lookup(conn, name)
    if existing is not None and job.attempt > 1 and provision.made_by(existing) == job.job_id:
        return _report(existing, source, [], already_done=True)
    if existing is not None:
        raise HypervisorError(NAME_TAKEN, f"A VM named {name!r} exists on this host already.")
    if provision.running(source):
        raise HypervisorError(INVALID_STATE, f"Cannot clone VM {source.name()!r}: it is running. Stop it first.")
    xml = provision.inactive_xml(source)
    volumes, kept = storage.disk_volumes(conn, xml)
    loose = [disk.target for disk in kept if disk.why == "not a storage pool volume"]
    if loose:
        raise HypervisorError(OPERATION_UNSUPPORTED, f"Cannot clone VM {source.name()!r}: its disks "
                                                     f"{', '.join(loose)} are not storage pool volumes.")
    formats = _formats(xml)
    linked = bool(job.args.get("linked"))
    plan = [(volume, provision.Storage(conn, volume.pool, None),
             f"{name}-{volume.target}{'.qcow2' if linked else PurePosixPath(volume.name).suffix or '.img'}")
            for volume in volumes]
    for _volume, pool, copy_name in plan:
        if pool.volume(copy_name) is not None:
            raise HypervisorError(NAME_TAKEN, f"Pool {pool.name!r} has a volume {copy_name!r} already.")
    made = provision.Made()
    with provision.undone_on_failure(made):
        paths, copied = {}, []
        for volume, pool, copy_name in plan:
            copy = _disk(pool, copy_name, volume.handle, formats.get(volume.target, "qcow2"), made, linked=linked)
            paths[volume.target] = pool.path(copy)
            copied.append({"target": volume.target, "volume": f"{pool.name}/{copy_name}"})
        domain = provision.define(conn, clone_xml(xml, name, paths, job.job_id, overlays=linked), made)
        if job.args["start"]:
            provision.start(domain)
    return _report(domain, source, copied)


def _disk(pool: provision.Storage, name: str, source: Any, fmt: str, made: provision.Made, *,
          linked: bool) -> Any:
    """The clone's disk: a whole copy in the source's format, or a qcow2 overlay backed by the source's volume."""
    if linked:
        return pool.overlay(name, source, fmt, pool.capacity(source), made)
    return pool.copy(name, source, pool.capacity(source), made, fmt)


def _report(domain: provision.Domain, source: provision.Domain, disks: list[dict[str, str]],
            already_done: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    guest = Guest(domain)
    data: dict[str, Any] = {"vm_uuid": guest.uuid, "name": guest.name, "source_vm_uuid": source.UUIDString(),
                            "disks": disks, "source": source.name()}
    if already_done:
        data["already_done"] = True
    return data, guest.inventory_entry()


def _formats(xml: str) -> dict[str, str]:
    """Each disk's format (its driver type), by target."""
    formats = {}
    for disk in ET.fromstring(xml).findall("devices/disk"):
        target, driver = disk.find("target"), disk.find("driver")
        if target is not None and driver is not None and driver.get("type"):
            formats[target.get("dev", "")] = str(driver.get("type"))
    return formats


def clone_xml(source_xml: str, name: str, paths: Mapping[str, str], job_id: str, *,
              overlays: bool = False) -> ET.Element:
    """The clone's definition: the source's with a new name, the copied disks (qcow2 `overlays` for a linked
    clone), and what must be its own made afresh by libvirt (UUID, MAC addresses, NVRAM)."""
    root = ET.fromstring(source_xml)
    root.find("name").text = name  # type: ignore[union-attr]
    for element in root.findall("uuid"):
        root.remove(element)
    for nic in root.findall("devices/interface"):
        for mac in nic.findall("mac"):
            nic.remove(mac)
    usernet.renew(root)
    for disk in root.findall("devices/disk"):
        target = disk.find("target")
        dev = target.get("dev", "") if target is not None else ""
        if dev in paths:
            _point_at(disk, paths[dev], "qcow2" if overlays else None)
    nvram = root.find("os/nvram")
    if nvram is not None:
        nvram.text = None  # libvirt makes the clone's own from the template
    for device in [*root.findall("devices/serial"), *root.findall("devices/console")]:
        for log in device.findall("log"):
            device.remove(log)
    return with_metadata(root, job_id)


def _point_at(disk: ET.Element, path: str, fmt: str | None) -> None:
    """A disk element reading the clone's own file (in `fmt`, when it differs from the source's)."""
    for old in [*disk.findall("source"), *disk.findall("backingStore")]:
        disk.remove(old)
    disk.set("type", "file")
    disk.insert(1, ET.Element("source", file=path))
    driver = disk.find("driver")
    if fmt is not None and driver is not None:
        driver.set("type", fmt)
