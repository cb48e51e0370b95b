"""The hypervisor host: one libvirt connection, opened lazily and reopened when it dies.

libvirtd restarts (package upgrades, crashes) kill every client connection; the
next call notices and reconnects under a lock, so the heartbeat thread and the
job threads never race to open two. Works with any libvirt URI, including the
test driver's `test:///default` and `test:///ABSOLUTE/PATH.xml` (a <node>
document with many domains).

Every connection subscribes to domain lifecycle events (events.py) as it is
opened; the host hands each event, and the connection closing, to its
listeners (the heartbeat), and remembers when it saw each VM start, which is
the only uptime libvirt lets it know.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar

import libvirt

from .. import __version__
from ..config import DeploySettings
from . import stats, storage
from .errors import HYPERVISOR_UNAVAILABLE, VM_NOT_FOUND, HypervisorError
from .events import CONNECTION_CLOSED, LifecycleEvent, Listener, Subscription, ensure_event_loop
from .guest import Guest
from .translate import is_connection_error, translate_error

log = logging.getLogger(__name__)

T = TypeVar("T")

# libvirt drivers (virConnectGetType, upper-cased) that implement virDomainOpenConsole. The test driver
# does not: it answers VIR_ERR_NO_SUPPORT, so its hosts report `serial_console: false`.
CONSOLE_DRIVERS = frozenset({"QEMU", "LXC", "XEN", "LIBXL"})


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; we raise and log them ourselves."""


libvirt.registerErrorHandler(_quiet, None)


class Host:
    def __init__(self, uri: str, deploy: DeploySettings | None = None) -> None:
        self.uri = uri
        self.deploy = deploy or DeploySettings()  # where vm.deploy keeps images, what it may fetch
        self._lock = threading.Lock()
        self._conn: libvirt.virConnect | None = None
        self._subscription: Subscription | None = None
        self._listeners: list[Listener] = []
        self._started_at: dict[str, float] = {}  # VM UUID → time.time() of the start event we saw
        self._events_lock = threading.Lock()

    def watch(self, listener: Listener) -> None:
        """Call `listener(event)` on every lifecycle event and when the connection closes (event-loop thread)."""
        with self._events_lock:
            self._listeners.append(listener)

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

    def reachable(self) -> bool:
        """Whether libvirtd answers now (reconnecting, and so subscribing to events again, if needed)."""
        try:
            self.connection()
        except HypervisorError:
            return False
        return True

    def capabilities(self) -> dict[str, Any]:
        """What the host offers, as heartbeats and enrolment report it (kept small: it goes out every beat)."""
        return self._call(self._capabilities)

    def full_capabilities(self) -> dict[str, Any]:
        """host.capabilities: the heartbeat's view plus CPU topology, storage pools, networks, QEMU version."""
        return self._call(self._full_capabilities)

    def inventory(self) -> list[dict[str, Any]]:
        """Every VM on the host as inventory entries (Guest.inventory_entry), sorted by name."""
        return self._call(self._inventory)

    def domain_stats(self) -> list[stats.Counters]:
        """Every VM's statistics counters now, in one libvirt call (stats.py)."""
        return self._call(lambda: stats.read(self.connection()))

    def cpu_times(self) -> tuple[int, int]:
        """The host's own CPU time, busy and total, in nanoseconds since boot (stats.host_cpu)."""
        return self._call(lambda: stats.host_cpu(self.connection()))

    def guest(self, vm_uuid: str) -> Guest:
        """The VM with this UUID; HypervisorError(vm_not_found) if the host has none."""
        try:
            domain = self._call(lambda: self.connection().lookupByUUIDString(vm_uuid))
        except HypervisorError as exc:
            if exc.code == VM_NOT_FOUND:
                raise HypervisorError(VM_NOT_FOUND, f"No VM with UUID {vm_uuid} on this host.") from exc
            raise
        with self._events_lock:
            started_at = self._started_at.get(vm_uuid)
        return self._call(lambda: Guest(domain, started_at=started_at))

    def _open(self) -> libvirt.virConnect:
        ensure_event_loop()  # before the connection exists, or it never delivers events
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise HypervisorError(HYPERVISOR_UNAVAILABLE,
                                  f"Cannot connect to libvirt at {self.uri}: {exc.get_error_message()}",
                                  transient=True) from exc
        with self._events_lock:
            self._started_at.clear()  # starts and stops while we were away went unseen
        try:
            self._subscription = Subscription(conn, self._on_event)
        except libvirt.libvirtError as exc:
            log.warning("lifecycle events unavailable uri=%s error=%s", self.uri, exc.get_error_message())
        log.info("libvirt connected uri=%s events=%s", self.uri, self._subscription is not None)
        return conn

    def _drop(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        if self._conn is not None:
            # A dead connection may fail to close; closing is only to free the handle.
            with contextlib.suppress(libvirt.libvirtError):
                self._conn.close()
            self._conn = None

    def _on_event(self, event: LifecycleEvent) -> None:
        """On the event-loop thread: note starts and stops, then tell the listeners; never block."""
        with self._events_lock:
            if event.event == "started" and event.vm_uuid:
                self._started_at[event.vm_uuid] = time.time()
            elif event.event in ("stopped", "undefined") and event.vm_uuid:
                self._started_at.pop(event.vm_uuid, None)
            listeners = list(self._listeners)
        if event.event == CONNECTION_CLOSED:
            log.warning("libvirt connection closed uri=%s; reconnecting on the next call", self.uri)
        for listener in listeners:
            listener(event)

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
            "serial_console": conn.getType().upper() in CONSOLE_DRIVERS,
            "hypervisor_version": _version(conn.getVersion()),
            "kvm_usable": kvm_offered(caps),
            "agent_version": __version__,
        }

    def _full_capabilities(self) -> dict[str, Any]:
        conn = self.connection()
        base = self._capabilities()
        _model, _memory, _cpus, _mhz, nodes, sockets, cores, threads = conn.getInfo()
        return {**base,
                "cpu_vendor": ET.fromstring(conn.getCapabilities()).findtext("host/cpu/vendor"),
                "cpu_topology": {"numa_nodes": nodes, "sockets_per_node": sockets, "cores_per_socket": cores,
                                 "threads_per_core": threads},
                "qemu_version": base["hypervisor_version"] if base["hypervisor"] == "QEMU" else None,
                "storage_pools": storage.pools(conn),
                "networks": _networks(conn)}

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


def kvm_offered(caps: ET.Element) -> bool:
    """libvirt's own judgement: it offers `kvm` guests only when it can open /dev/kvm."""
    return caps.find("guest/arch/domain[@type='kvm']") is not None


def _networks(conn: libvirt.virConnect) -> list[dict[str, Any]]:
    entries = []
    for network in conn.listAllNetworks(0):
        try:
            bridge: str | None = network.bridgeName()
        except libvirt.libvirtError:
            bridge = None  # macvtap, hostdev and other bridgeless networks
        entries.append({"name": network.name(), "active": bool(network.isActive()),
                        "persistent": bool(network.isPersistent()), "autostart": bool(network.autostart()),
                        "bridge": bridge})
    return sorted(entries, key=lambda n: n["name"])


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def _version(number: int) -> str:
    """libvirt packs versions as major * 1,000,000 + minor * 1,000 + release."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
