"""The heartbeat thread: beats on its interval, soon after a job, and at once after a libvirt lifecycle event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt
import pytest
from fleetvisor_agent.heartbeat import Heartbeat, regular_wait
from fleetvisor_agent.hypervisor.host import Host

from tests.conftest import wait_until

from .conftest import DEFAULT_URI, TEST_VM_UUID


@dataclass
class CountingControlPlane:
    """Stands in for ControlPlane.heartbeat only: records what each heartbeat carried, and when."""

    beats: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def heartbeat(self, capabilities: dict[str, Any], vms: list[dict[str, Any]], running_jobs: list[str],
                  budget: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            self.beats.append((time.monotonic(), vms))
        return {}

    def count(self) -> int:
        with self.lock:
            return len(self.beats)

    def states_in_beat(self, index: int) -> dict[str, str]:
        with self.lock:
            return {vm["name"]: vm["state"] for vm in self.beats[index][1]}


@contextmanager
def heartbeat_on(host: Host) -> Iterator[tuple[Heartbeat, CountingControlPlane]]:
    """A started heartbeat every 10 minutes (so any other beat was asked for), stopped afterwards."""
    client = CountingControlPlane()
    stop = threading.Event()
    heartbeat = Heartbeat(client, host, interval=600, stop=stop, jobs_in_hand=list,  # type: ignore[arg-type]
                          on_answer=lambda _answer: None, on_unauthorized=lambda _exc: None)
    heartbeat.start()
    try:
        yield heartbeat, client
    finally:
        stop.set()
        heartbeat.wake()
        heartbeat.join(timeout=5)


@pytest.fixture
def beating(default_host: Host) -> Iterator[tuple[Heartbeat, CountingControlPlane]]:
    """A heartbeat on test:///default, after its first beat."""
    with heartbeat_on(default_host) as (heartbeat, client):
        wait_until(lambda: client.count() == 1)
        yield heartbeat, client


def outside_connection() -> libvirt.virConnect:
    """A connection of its own, like virsh: changes made through it are not the agent's doing."""
    return libvirt.open(DEFAULT_URI)


def test_a_change_made_outside_the_agent_is_reported_within_two_seconds(
        beating: tuple[Heartbeat, CountingControlPlane]) -> None:
    _heartbeat, client = beating
    conn = outside_connection()
    changed = time.monotonic()

    conn.lookupByUUIDString(TEST_VM_UUID).suspend()
    wait_until(lambda: client.count() >= 2, timeout=2.0)
    conn.close()

    assert client.beats[1][0] - changed < 2.0
    assert client.states_in_beat(1)["test"] == "paused"


def test_a_burst_of_events_is_folded_into_one_heartbeat(beating: tuple[Heartbeat, CountingControlPlane]) -> None:
    _heartbeat, client = beating
    conn = outside_connection()
    domain = conn.lookupByUUIDString(TEST_VM_UUID)

    for _ in range(3):
        domain.suspend()
        domain.resume()
    wait_until(lambda: client.count() >= 2, timeout=2.0)
    time.sleep(0.5)
    conn.close()

    assert client.count() == 2  # six events, one heartbeat
    assert client.states_in_beat(1)["test"] == "running"


def test_events_still_arrive_after_a_reconnect(default_host: Host,
                                               beating: tuple[Heartbeat, CountingControlPlane]) -> None:
    _heartbeat, client = beating
    first = default_host.connection()
    first.close()  # what a libvirtd restart does to every client
    default_host.inventory()  # the next call reconnects, and subscribes again
    assert default_host.connection() is not first
    conn = outside_connection()

    conn.lookupByUUIDString(TEST_VM_UUID).suspend()
    wait_until(lambda: client.count() >= 2, timeout=2.0)
    conn.close()

    assert client.states_in_beat(1)["test"] == "paused"


def test_pings_arriving_together_are_answered_by_one_heartbeat_at_once(
        beating: tuple[Heartbeat, CountingControlPlane]) -> None:
    heartbeat, client = beating
    asked = time.monotonic()

    for _ in range(3):  # three open pages' pings read from the queue in one receive
        heartbeat.now()
    wait_until(lambda: client.count() >= 2, timeout=1.0)
    time.sleep(0.3)

    assert client.count() == 2
    assert client.beats[1][0] - asked < 0.5


def test_soon_waits_its_delay_and_vm_changed_only_the_debounce(
        beating: tuple[Heartbeat, CountingControlPlane]) -> None:
    heartbeat, client = beating
    heartbeat.soon_seconds = 1.0
    asked = time.monotonic()

    heartbeat.soon()
    heartbeat.vm_changed()  # an event during the wait brings the beat forward
    wait_until(lambda: client.count() >= 2, timeout=2.0)

    assert client.beats[1][0] - asked < 0.8


def test_while_libvirt_is_down_the_connection_is_retried_and_the_host_reported_once_back(
        node_uri: str, tmp_path: Path) -> None:
    node_file = Path(node_uri.removeprefix("test://"))
    hidden = node_file.rename(tmp_path / "hidden.xml")  # libvirtd "down": the URI cannot be opened
    host = Host(node_uri)
    with heartbeat_on(host) as (_heartbeat, client):
        wait_until(lambda: client.count() == 1)
        hidden.rename(node_file)  # "back"

        wait_until(lambda: client.count() == 2, timeout=5.0)
    host.close()

    assert client.states_in_beat(0) == {}
    assert client.states_in_beat(1) == {"cache1": "paused", "db1": "shutoff", "web1": "running"}


def test_regular_heartbeats_are_spread_over_the_interval_plus_or_minus_ten_percent() -> None:
    waits = [regular_wait(30.0) for _ in range(2000)]

    assert all(27.0 <= wait <= 33.0 for wait in waits)
    assert min(waits) < 27.6 and max(waits) > 32.4  # the draws cover most of the range, not one value
    assert len(set(waits)) > 1900
