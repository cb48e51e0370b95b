"""Storage: which of a VM's disks are libvirt storage volumes (to delete with the VM), and the host's pools.

A disk is deleted with its VM only when libvirt itself says it is a volume of
a storage pool: `<source pool= volume=>` is looked up in that pool, a file or
block path is looked up with virStorageVolLookupByPath, which finds only
volumes of active pools. No path is ever built from a name, so a disk outside
every pool (a file an operator placed by hand, an ISO, a network disk) is kept
and named in the answer. CD-ROMs and floppies, and disks marked shareable or
read-only, are kept too: they are usually shared with other VMs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import partial
from typing import Any

import libvirt

from .errors import STORAGE_ERROR, HypervisorError
from .translate import call, translate_error

NOT_IN_A_POOL = (libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_STORAGE_POOL)
POOL_STATES = {
    libvirt.VIR_STORAGE_POOL_INACTIVE: "inactive",
    libvirt.VIR_STORAGE_POOL_BUILDING: "building",
    libvirt.VIR_STORAGE_POOL_RUNNING: "running",
    libvirt.VIR_STORAGE_POOL_DEGRADED: "degraded",
    libvirt.VIR_STORAGE_POOL_INACCESSIBLE: "inaccessible",
}


@dataclass(frozen=True)
class Volume:
    target: str  # the VM's device name, e.g. vda
    pool: str
    name: str
    path: str
    handle: libvirt.virStorageVol

    def label(self) -> str:
        return f"{self.pool}/{self.name}"


@dataclass(frozen=True)
class KeptDisk:
    target: str
    why: str

    def label(self) -> str:
        return f"{self.target} ({self.why})"


def disk_volumes(conn: libvirt.virConnect, domain_xml: str) -> tuple[list[Volume], list[KeptDisk]]:
    """The VM's disks that are pool volumes, and the others with the reason each one stays."""
    volumes: list[Volume] = []
    kept: list[KeptDisk] = []
    for disk in ET.fromstring(domain_xml).findall("devices/disk"):
        target = disk.find("target")
        name = target.get("dev", "?") if target is not None else "?"
        why = _kept_because(disk)
        source = disk.find("source")
        volume = None if why or source is None else _lookup(conn, disk.get("type"), source)
        if volume is None:
            kept.append(KeptDisk(name, why or "not a storage pool volume"))
        else:
            volumes.append(Volume(name, *_identify(volume), handle=volume))
    return volumes, kept


def delete_volumes(volumes: list[Volume], vm: str) -> list[str]:
    """Delete each volume; storage_error naming every one that failed (after trying them all)."""
    deleted, failed = [], []
    for volume in volumes:
        try:
            volume.handle.delete(0)
            deleted.append(volume.label())
        except libvirt.libvirtError as exc:
            failed.append(f"{volume.label()}: {translate_error(exc, fallback=STORAGE_ERROR).message}")
    if failed:
        raise HypervisorError(STORAGE_ERROR, f"VM {vm!r} was deleted, but not all of its volumes: "
                              f"{'; '.join(failed)}. Deleted: {', '.join(deleted) or 'none'}.")
    return deleted


def pools(conn: libvirt.virConnect) -> list[dict[str, Any]]:
    """Every storage pool: name, type, state, autostart, capacity/allocation/available bytes, target path."""
    entries = []
    for pool in call(lambda: conn.listAllStoragePools(0), fallback=STORAGE_ERROR):
        state, capacity, allocation, available = call(pool.info, fallback=STORAGE_ERROR)
        root = ET.fromstring(call(partial(pool.XMLDesc, 0), fallback=STORAGE_ERROR))
        entries.append({"name": pool.name(), "type": root.get("type"), "state": POOL_STATES.get(state, "unknown"),
                        "active": state == libvirt.VIR_STORAGE_POOL_RUNNING,
                        "autostart": bool(call(pool.autostart, fallback=STORAGE_ERROR)),
                        "capacity_bytes": capacity, "allocation_bytes": allocation, "available_bytes": available,
                        "path": root.findtext("target/path")})
    return sorted(entries, key=lambda p: p["name"])


def _kept_because(disk: ET.Element) -> str:
    device = disk.get("device", "disk")
    if device != "disk":
        return device
    if disk.find("shareable") is not None:
        return "shareable"
    if disk.find("readonly") is not None:
        return "read-only"
    if disk.get("type") not in ("file", "block", "volume") or disk.find("source") is None:
        return "not a storage pool volume"
    return ""


def _lookup(conn: libvirt.virConnect, kind: str | None, source: ET.Element) -> libvirt.virStorageVol | None:
    try:
        if kind == "volume":
            pool = conn.storagePoolLookupByName(source.get("pool", ""))
            return pool.storageVolLookupByName(source.get("volume", ""))
        return conn.storageVolLookupByPath(source.get("file") or source.get("dev") or "")
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in NOT_IN_A_POOL:
            return None
        raise translate_error(exc, fallback=STORAGE_ERROR) from exc


def _identify(volume: libvirt.virStorageVol) -> tuple[str, str, str]:
    """(pool, volume name, path) of a volume, as libvirt names them."""
    pool = call(volume.storagePoolLookupByVolume, fallback=STORAGE_ERROR)
    return pool.name(), volume.name(), call(volume.path, fallback=STORAGE_ERROR)
