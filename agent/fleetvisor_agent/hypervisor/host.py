"""The hypervisor host: one libvirt connection, opened lazily and reopened when it dies.

libvirtd restarts (package upgrades, crashes) kill every client connection; the
next call notices and reconnects under a lock, so the heartbeat thread and the
job threads never race to open two. Works with any libvirt URI, including the
test driver's `test:///default` and `test:///ABSOLUTE/PATH.xml` (a <node>
document with many domains).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar

import libvirt

from .. import __version__
from .errors import HYPERVISOR_UNAVAILABLE, VM_NOT_FOUND, HypervisorError
from .guest import Guest, is_connection_error, translate_error

log = logging.getLogger(__name__)

T = TypeVar("T")


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; we raise and log them ourselves."""


libvirt.registerErrorHandler(_quiet, None)


class Host:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._lock = threading.Lock()
        self._conn: libvirt.virConnect | None = None

    def connection(self) -> libvirt.virConnect:
        """The live connection, opening or reopening it if needed; HypervisorError if libvirtd is down."""
        with self._lock:
            if self._conn is not None and not _alive(self._conn):
                log.warning("libvirt connection lost uri=%s, reconnecting", self.uri)
                self._drop()
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def close(self) -> None:
        with self._lock:
            self._drop()

    def capabilities(self) -> dict[str, Any]:
        """What the host offers, as heartbeats and enrolment report it."""
        return self._call(self._capabilities)

    def inventory(self) -> list[dict[str, Any]]:
        """Every VM on the host: [{uuid, name, state, vcpus, memory_kib}], sorted by name."""
        return self._call(self._inventory)

    def guest(self, vm_uuid: str) -> Guest:
        """The VM with this UUID; HypervisorError(vm_not_found) if the host has none."""
        try:
            return self._call(lambda: Guest(self.connection().lookupByUUIDString(vm_uuid)))
        except HypervisorError as exc:
            if exc.code == VM_NOT_FOUND:
                raise HypervisorError(VM_NOT_FOUND, f"No VM with UUID {vm_uuid} on this host.") from exc
            raise

    def _open(self) -> libvirt.virConnect:
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise HypervisorError(HYPERVISOR_UNAVAILABLE,
                                  f"Cannot connect to libvirt at {self.uri}: {exc.get_error_message()}",
                                  transient=True) from exc
        log.info("libvirt connected uri=%s", self.uri)
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            # A dead connection may fail to close; closing is only to free the handle.
            with contextlib.suppress(libvirt.libvirtError):
                self._conn.close()
            self._conn = None

    def _call(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except libvirt.libvirtError as exc:
            if is_connection_error(exc):
                self.close()
            raise translate_error(exc) from exc

    def _capabilities(self) -> dict[str, Any]:
        conn = self.connection()
        model, memory_mib, cpus, mhz, *_ = conn.getInfo()
        caps = ET.fromstring(conn.getCapabilities())
        return {
            "hostname": conn.getHostname() or socket.gethostname(),
            "cpu_model": caps.findtext("host/cpu/model") or model,
            "cpu_arch": caps.findtext("host/cpu/arch") or model,
            "cpu_count": cpus,
            "cpu_mhz": mhz,
            "memory_total_kib": memory_mib * 1024,
            "memory_free_kib": conn.getFreeMemory() // 1024,
            "libvirt_version": _version(conn.getLibVersion()),
            "hypervisor": conn.getType(),
            "hypervisor_version": _version(conn.getVersion()),
            "agent_version": __version__,
        }

    def _inventory(self) -> list[dict[str, Any]]:
        entries = []
        for domain in self.connection().listAllDomains(0):
            try:
                entries.append(Guest(domain).inventory_entry())
            except HypervisorError as exc:
                if exc.code != VM_NOT_FOUND:
                    raise
                # Undefined between the listing and the look: it is simply gone.
        return sorted(entries, key=lambda vm: (vm["name"], vm["uuid"]))


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def _version(number: int) -> str:
    """libvirt packs versions as major * 1,000,000 + minor * 1,000 + release."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
