"""A change made outside the agent (virsh) reaches a heartbeat at once, through libvirt's lifecycle events."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from fleetvisor_agent.heartbeat import Heartbeat
from fleetvisor_agent.hypervisor.host import Host

from .conftest import TIMINGS
from .guest import URI, QemuGuest, restart_libvirtd, virsh, wait_for


class CountingControlPlane:
    """Stands in for ControlPlane.heartbeat only: when each heartbeat went out, and the VM states it carried."""

    def __init__(self) -> None:
        self.beats: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()

    def heartbeat(self, capabilities: dict[str, Any], vms: list[dict[str, Any]], running_jobs: list[str],
                  budget: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            self.beats.append((time.monotonic(), {vm["name"]: vm["state"] for vm in vms}))
        return {}

    def count(self) -> int:
        with self._lock:
            return len(self.beats)


@contextlib.contextmanager
def heartbeating() -> Iterator[CountingControlPlane]:
    """The agent's heartbeat on a connection of its own, as in the running agent, with a 10-minute period: any
    heartbeat within the test's seconds is one a lifecycle event (or a reconnect) sent."""
    host = Host(URI)
    client = CountingControlPlane()
    stop = threading.Event()
    heartbeat = Heartbeat(client, host, interval=600, stop=stop, jobs_in_hand=list,  # type: ignore[arg-type]
                          on_answer=lambda _answer: None, on_unauthorized=lambda _exc: None)
    heartbeat.start()
    try:
        wait_for(lambda: client.count() == 1, 10, "the first heartbeat")
        yield client
    finally:
        stop.set()
        heartbeat.wake()
        heartbeat.join(timeout=5)
        host.close()


def test_virsh_destroy_makes_the_heartbeat_beat_within_two_seconds(guest: QemuGuest) -> None:
    guest.ensure_shut_off()
    guest.start()  # the boot need not finish: destroying works at any moment
    with heartbeating() as client:
        asked = time.monotonic()
        virsh("destroy", guest.name)
        destroyed = time.monotonic()

        wait_for(lambda: client.count() >= 2, 2, "a heartbeat after `virsh destroy`")
        beat_at, states = client.beats[1]

    TIMINGS["`virsh destroy` returned → heartbeat sent"] = beat_at - destroyed
    TIMINGS["`virsh destroy` started → heartbeat sent"] = beat_at - asked
    assert beat_at - destroyed < 2.0
    assert states[guest.name] == "shutoff"


def test_after_libvirtd_restarts_the_agent_reconnects_and_hears_events_again(guest: QemuGuest) -> None:
    guest.ensure_running_ready()
    with heartbeating() as client:
        restart_libvirtd()
        restarted = time.monotonic()
        # The close callback and the reconnect with backoff bring a heartbeat of the host as it is, unasked.
        wait_for(lambda: any(at > restarted and states.get(guest.name) == "running" for at, states in client.beats),
                 20, "a heartbeat from the new connection")
        beats = client.count()
        virsh("destroy", guest.name)
        destroyed = time.monotonic()

        # Subscribed again on the new connection: the change outside the agent is heard as before.
        wait_for(lambda: client.count() > beats and client.beats[-1][1].get(guest.name) == "shutoff", 2,
                 "a heartbeat after `virsh destroy` on the new connection")
    TIMINGS["libvirtd restarted → heartbeat from the new connection"] = next(
        at for at, _ in client.beats if at > restarted) - restarted
    assert client.beats[-1][0] - destroyed < 2.0
