"""One VM's snapshots: create (internal), list, revert, delete.

Snapshot XML is built with ElementTree, so a name or description reaches
libvirt only as escaped XML text. The snapshot is internal: a running VM's
memory is saved too (`<memory snapshot='internal'/>`), a shut-off VM's disks
only, which on QEMU needs every disk to be qcow2 (anything else is
operation_unsupported, in libvirt's words).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar

import libvirt

from .errors import SNAPSHOT_EXISTS, SNAPSHOT_NOT_FOUND, HypervisorError
from .translate import call

T = TypeVar("T")


class Snapshots:
    def __init__(self, domain: libvirt.virDomain, vm_name: str) -> None:
        self._domain = domain
        self._vm = vm_name

    def create(self, name: str, description: str | None = None) -> dict[str, Any]:
        """Take an internal snapshot; snapshot_exists if the VM already has one of that name."""
        if self._find(name) is not None:
            raise HypervisorError(SNAPSHOT_EXISTS, f"VM {self._vm!r} already has a snapshot named {name!r}.")
        running = bool(self._call(self._domain.isActive))
        xml = snapshot_xml(name, description, with_memory=running)
        snapshot = self._call(lambda: self._domain.snapshotCreateXML(xml, 0))
        return self._entry(snapshot)

    def list(self) -> list[dict[str, Any]]:
        """[{name, description, created_at, state, current}], oldest first."""
        entries = [self._entry(s) for s in self._call(lambda: self._domain.listAllSnapshots(0))]
        return sorted(entries, key=lambda s: (s["created_at"] or 0, s["name"]))

    def revert(self, name: str) -> None:
        snapshot = self._get(name)
        self._call(lambda: self._domain.revertToSnapshot(snapshot, 0))

    def delete(self, name: str) -> None:
        """Delete this snapshot only; its children, if any, are kept (libvirt re-parents them)."""
        snapshot = self._get(name)
        self._call(lambda: snapshot.delete(0))

    def _find(self, name: str) -> libvirt.virDomainSnapshot | None:
        try:
            return self._get(name)
        except HypervisorError as exc:
            if exc.code == SNAPSHOT_NOT_FOUND:
                return None
            raise

    def _get(self, name: str) -> libvirt.virDomainSnapshot:
        try:
            return self._call(lambda: self._domain.snapshotLookupByName(name, 0))
        except HypervisorError as exc:
            if exc.code == SNAPSHOT_NOT_FOUND:
                raise HypervisorError(SNAPSHOT_NOT_FOUND, f"VM {self._vm!r} has no snapshot named {name!r}.") from exc
            raise

    def _entry(self, snapshot: libvirt.virDomainSnapshot) -> dict[str, Any]:
        root = ET.fromstring(self._call(lambda: snapshot.getXMLDesc(0)))
        created = root.findtext("creationTime")
        return {"name": root.findtext("name") or snapshot.getName(),
                "description": root.findtext("description"),
                "created_at": int(created) if created and created.isdigit() else None,
                "state": root.findtext("state"),
                "current": bool(self._call(lambda: snapshot.isCurrent(0)))}

    def _call(self, operation: Callable[[], T]) -> T:
        return call(operation, repr(self._vm))


def snapshot_xml(name: str, description: str | None, *, with_memory: bool) -> str:
    """<domainsnapshot> for an internal snapshot; text goes in as text, never as markup."""
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = name
    if description is not None:
        ET.SubElement(root, "description").text = description
    ET.SubElement(root, "memory", snapshot="internal" if with_memory else "no")
    return ET.tostring(root, encoding="unicode")
