"""A change made outside the agent (virsh) reaches a heartbeat at once, through libvirt's lifecycle events."""

from __future__ import annotations

import threading
import time
from typing import Any

from fleetvisor_agent.heartbeat import Heartbeat
from fleetvisor_agent.hypervisor.host import Host

from .conftest import TIMINGS
from .guest import URI, QemuGuest, virsh, wait_for


class CountingControlPlane:
    """Stands in for ControlPlane.heartbeat only: when each heartbeat went out, and the VM states it carried."""

    def __init__(self) -> None:
        self.beats: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()

    def heartbeat(self, capabilities: dict[str, Any], vms: list[dict[str, Any]], running_jobs: list[str],
                  budget: float) -> dict[str, Any]:
        with self._lock:
            self.beats.append((time.monotonic(), {vm["name"]: vm["state"] for vm in vms}))
        return {}

    def count(self) -> int:
        with self._lock:
            return len(self.beats)


def test_virsh_destroy_makes_the_heartbeat_beat_within_two_seconds(guest: QemuGuest) -> None:
    guest.ensure_shut_off()
    guest.start()  # the boot need not finish: destroying works at any moment
    host = Host(URI)  # a connection of the agent's own, as in the running agent
    client = CountingControlPlane()
    stop = threading.Event()
    heartbeat = Heartbeat(client, host, interval=600, stop=stop, jobs_in_hand=list,  # type: ignore[arg-type]
                          on_answer=lambda _answer: None, on_unauthorized=lambda _exc: None)
    heartbeat.start()
    try:
        wait_for(lambda: client.count() == 1, 10, "the first heartbeat")
        asked = time.monotonic()
        virsh("destroy", guest.name)
        destroyed = time.monotonic()

        wait_for(lambda: client.count() >= 2, 2, "a heartbeat after `virsh destroy`")
        beat_at, states = client.beats[1]
    finally:
        stop.set()
        heartbeat.wake()
        heartbeat.join(timeout=5)
        host.close()

    TIMINGS["`virsh destroy` returned → heartbeat sent"] = beat_at - destroyed
    TIMINGS["`virsh destroy` started → heartbeat sent"] = beat_at - asked
    assert beat_at - destroyed < 2.0
    assert states[guest.name] == "shutoff"
