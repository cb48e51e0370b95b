"""libvirt's domain lifecycle events, so a change made outside Fleetvisor reaches the control plane at once.

libvirt delivers events only to a process that has an event loop: the default
implementation is registered once per process (before any connection is
opened, or that connection never gets events) and run by a daemon thread. A
connection then carries one lifecycle subscription and one close callback;
both run on the event-loop thread and only hand a LifecycleEvent to the
listener, which must return at once. A reconnect makes a new connection, so
host.py subscribes again each time it opens one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import libvirt

log = logging.getLogger(__name__)

# virDomainEventType, in order, as lowercase words.
EVENTS: dict[int, str] = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: "defined",
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: "undefined",
    libvirt.VIR_DOMAIN_EVENT_STARTED: "started",
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "suspended",
    libvirt.VIR_DOMAIN_EVENT_RESUMED: "resumed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED: "stopped",
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
    libvirt.VIR_DOMAIN_EVENT_CRASHED: "crashed",
}
CONNECTION_CLOSED = "connection_closed"

_loop_lock = threading.Lock()
_loop_thread: threading.Thread | None = None


@dataclass(frozen=True)
class LifecycleEvent:
    """What happened: `event` is one of EVENTS' words (or connection_closed, with no VM)."""

    event: str
    vm_uuid: str | None = None
    vm_name: str | None = None


Listener = Callable[[LifecycleEvent], None]


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and start its thread, once per process."""
    global _loop_thread
    with _loop_lock:
        if _loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()
        _loop_thread = threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True)
        _loop_thread.start()


def _run_event_loop() -> None:
    while True:
        if libvirt.virEventRunDefaultImpl() < 0:
            log.error("libvirt event loop iteration failed")


class Subscription:
    """Lifecycle events and the close of one connection, handed to `listener` on the event-loop thread."""

    def __init__(self, conn: libvirt.virConnect, listener: Listener) -> None:
        self._conn = conn
        self._listener = listener
        self._callback_id: int | None = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None)
        conn.registerCloseCallback(self._on_close, None)

    def cancel(self) -> None:
        """Stop listening; on a dead connection this may fail, which only means there is nothing left to stop."""
        with contextlib.suppress(libvirt.libvirtError):
            if self._callback_id is not None:
                self._conn.domainEventDeregisterAny(self._callback_id)
        with contextlib.suppress(libvirt.libvirtError):
            self._conn.unregisterCloseCallback()
        self._callback_id = None

    def _on_lifecycle(self, _conn: libvirt.virConnect, domain: libvirt.virDomain, event: int, _detail: int,
                      _opaque: object) -> None:
        self._deliver(LifecycleEvent(EVENTS.get(event, "unknown"), domain.UUIDString(), domain.name()))

    def _on_close(self, _conn: libvirt.virConnect, _reason: int, _opaque: object) -> None:
        self._deliver(LifecycleEvent(CONNECTION_CLOSED))

    def _deliver(self, event: LifecycleEvent) -> None:
        try:
            self._listener(event)
        except Exception:  # an exception must not reach libvirt's C event loop
            log.exception("lifecycle event listener failed event=%s", event.event)
