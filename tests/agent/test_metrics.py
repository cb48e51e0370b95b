"""The metrics sampler (metrics.py) and libvirt's domain statistics (hypervisor/stats.py).

libvirt's test driver reports only the `state` group of getAllDomainStats, so the readings from
test:///default show what a driver leaves out (None, never a made-up zero); the rates are checked on
records shaped as QEMU's driver gives them. tests/e2e/test_vm_page.py has the real QEMU figures.
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import pytest
from fleetvisor_agent.client import ApiError
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.hypervisor.stats import Counters, counters
from fleetvisor_agent.metrics import MAX_POINTS, Sampler, point

from .conftest import CACHE1, DB1, WEB1

VM = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
URL = "https://s3.example/metrics/put?sig=x"
# What QEMU's driver answers for a running VM with one disk and two NICs (libvirt 9, trimmed).
QEMU_RECORD: dict[str, Any] = {
    "state.state": 1, "state.reason": 1, "cpu.time": 40_000_000_000, "vcpu.current": 2, "vcpu.maximum": 2,
    "balloon.current": 1048576, "balloon.maximum": 1048576, "balloon.rss": 300000,
    "block.count": 1, "block.0.name": "vda", "block.0.rd.bytes": 1000, "block.0.wr.bytes": 5000,
    "net.count": 2, "net.0.rx.bytes": 100, "net.0.tx.bytes": 10, "net.1.rx.bytes": 50, "net.1.tx.bytes": 5,
}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _later(record: dict[str, Any], seconds: float, busy: float) -> dict[str, Any]:
    """The record `seconds` later with the VM `busy` (0..1) on both vCPUs and 1 MB/s read, 2 KB/s received."""
    return {**record, "cpu.time": record["cpu.time"] + int(busy * 2 * seconds * 1e9),
            "block.0.rd.bytes": record["block.0.rd.bytes"] + int(seconds * 1_000_000),
            "net.0.rx.bytes": record["net.0.rx.bytes"] + int(seconds * 2000)}


def _unzip(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(gzip.decompress(data))
    return document


def test_the_test_driver_reports_each_vm_state_and_nothing_it_cannot_measure(node_uri: str) -> None:
    readings = {c.uuid: c for c in Host(node_uri).domain_stats()}
    assert {u: c.state for u, c in readings.items()} == {WEB1: "running", DB1: "shutoff", CACHE1: "paused"}
    assert readings[WEB1].name == "web1"
    assert readings[WEB1].cpu_time_ns is None and readings[WEB1].disk_read_bytes is None


def test_counters_sum_every_disk_and_nic_and_memory_prefers_the_guests_own_report() -> None:
    c = counters(VM, "web1", QEMU_RECORD)
    assert (c.state, c.vcpus, c.cpu_time_ns, c.memory_kib) == ("running", 2, 40_000_000_000, 1048576)
    assert (c.disk_read_bytes, c.disk_write_bytes, c.net_rx_bytes, c.net_tx_bytes) == (1000, 5000, 150, 15)
    assert c.memory_used_kib == 300000  # QEMU's RSS, without guest statistics
    guest = counters(VM, "web1", {**QEMU_RECORD, "balloon.available": 1000000, "balloon.unused": 600000})
    assert guest.memory_used_kib == 400000
    bare = counters(VM, "web1", {"state.state": 5})
    assert (bare.state, bare.cpu_time_ns, bare.disk_read_bytes, bare.memory_used_kib) == ("shutoff", None, None, None)


def test_a_point_turns_counter_growth_into_rates_and_a_restarted_vm_into_gaps() -> None:
    before = counters(VM, "web1", QEMU_RECORD)
    after = counters(VM, "web1", _later(QEMU_RECORD, 60, busy=0.25))
    t, cpu, memory, used, disk_read, disk_write, rx, tx = point(before, 1000.0, after, 1060.0)
    assert (t, cpu, memory, used) == (1060, 25.0, 1048576, 300000)
    assert (disk_read, disk_write, rx, tx) == (1_000_000, 0, 2000, 0)
    restarted = counters(VM, "web1", {**QEMU_RECORD, "cpu.time": 1})
    assert point(after, 1060.0, restarted, 1120.0)[1] is None
    assert point(None, 1120.0, after, 1120.0)[1:3] == (None, 1048576)  # the first reading: no rate yet


class FakeHost:
    """Readings from records shaped like QEMU's, advancing with the clock: the VM 50 % busy."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.start = clock.now
        self.reads = 0

    def read(self) -> list[Counters]:
        self.reads += 1
        return [counters(VM, "web1", _later(QEMU_RECORD, self.clock.now - self.start, busy=0.5))]


def _sampler(clock: Clock, read: Any, uploads: list[tuple[str, bytes]], fail: bool = False) -> Sampler:
    def upload(url: str, data: bytes) -> None:
        if fail:
            raise ApiError(503, "upload_failed", "PUT answered 503")
        uploads.append((url, data))

    return Sampler(read, upload, stop=threading.Event(), clock=clock)


def _run_minutes(sampler: Sampler, clock: Clock, minutes: int) -> None:
    for _ in range(minutes):
        sampler.tick()
        clock.now += 60


def test_points_wait_for_a_batch_then_one_heartbeat_asks_and_its_offer_uploads_them_once() -> None:
    clock, uploads = Clock(), []
    host = FakeHost(clock)
    sampler = _sampler(clock, host.read, uploads)
    _run_minutes(sampler, clock, 59)
    assert sampler.heartbeat_fields() == {}  # not a batch yet: the heartbeat asks for nothing
    _run_minutes(sampler, clock, 2)
    assert sampler.heartbeat_fields() == {"metrics": {"ready": True}}
    sampler.offered({"metrics_upload": {"url": URL, "max_bytes": 1024 * 1024, "expires_at": clock.now + 900}})
    sampler.tick()
    assert [url for url, _ in uploads] == [URL]
    document = _unzip(uploads[0][1])
    series = document["vms"][VM]
    assert document["step"] == 60 and series["name"] == "web1" and len(series["t"]) == 62
    assert series["cpu"][0] is None and set(series["cpu"][1:]) == {50.0}
    assert set(series["disk_read"][1:]) == {1_000_000}
    assert sampler.heartbeat_fields() == {}  # uploaded points are gone
    sampler.tick()
    assert len(uploads) == 1  # an offer is used once


def test_a_failed_upload_keeps_the_points_for_the_next_offer_and_a_batch_stays_bounded() -> None:
    clock, uploads = Clock(), []
    sampler = _sampler(clock, FakeHost(clock).read, uploads, fail=True)
    _run_minutes(sampler, clock, MAX_POINTS + 50)
    sampler.offered({"metrics_upload": {"url": URL}})
    sampler.tick()
    data, sent = sampler.batch_document()
    assert sent == {VM: MAX_POINTS}  # the oldest went, the rest is still there
    assert uploads == [] and sampler.heartbeat_fields() == {"metrics": {"ready": True}}


def test_a_batch_larger_than_the_offer_takes_is_dropped_rather_than_sent() -> None:
    clock, uploads = Clock(), []
    sampler = _sampler(clock, FakeHost(clock).read, uploads)
    _run_minutes(sampler, clock, 61)
    sampler.offered({"metrics_upload": {"url": URL, "max_bytes": 10}})
    sampler.tick()
    assert uploads == [] and sampler.batch_document()[1] == {}


def test_a_metrics_ring_samples_that_vm_every_few_seconds_until_it_lapses(node_uri: str) -> None:
    clock, uploads = Clock(), []
    host = FakeHost(clock)
    sampler = _sampler(clock, host.read, uploads)
    sampler.tick()
    sampler.rung(f"{VM} {int(clock.now) + 30} {URL}")
    for _ in range(8):  # 40 s of 5 s ticks: live until +30 s
        clock.now += 5
        sampler.tick()
    live = [json.loads(data) for _, data in uploads]  # plain JSON: the page reads it as it is
    assert len(live) == 2  # one PUT per 20 s, not per sample
    assert live[-1]["vm_uuid"] == VM and live[-1]["step"] == 5
    assert set(live[-1]["live"]["cpu"][1:]) == {50.0} and live[-1]["pending"]["t"]  # the batch not yet uploaded
    count = len(uploads)
    clock.now += 60
    sampler.tick()
    assert len(uploads) == count  # lapsed: nothing more is put


@pytest.mark.parametrize("body", ["not-a-uuid 1 https://x", f"{VM} soon https://x", f"{VM} 1 file:///etc/x", VM])
def test_a_metrics_ring_it_cannot_read_is_dropped(body: str) -> None:
    clock, uploads = Clock(), []
    sampler = _sampler(clock, FakeHost(clock).read, uploads)
    sampler.rung(body)
    sampler.tick()
    clock.now += 20
    sampler.tick()
    assert uploads == []


def test_the_sampler_reads_the_test_driver_and_a_vm_without_counters_gives_gaps(node_uri: str) -> None:
    clock, uploads = Clock(), []
    sampler = _sampler(clock, Host(node_uri).domain_stats, uploads)
    _run_minutes(sampler, clock, 3)
    document = _unzip(sampler.batch_document()[0])
    assert set(document["vms"]) == {WEB1, DB1, CACHE1}
    assert document["vms"][WEB1]["cpu"] == [None, None, None]
    assert document["vms"][WEB1]["memory"] == [None, None, None]


def test_the_thread_samples_until_stopped(node_uri: str) -> None:
    stop, reads = threading.Event(), []
    host = Host(node_uri)

    def read() -> list[Counters]:
        reads.append(1)
        if len(reads) >= 3:
            stop.set()
        return host.domain_stats()

    sampler = Sampler(read, lambda _url, _data: None, stop=stop, step=0.01)
    sampler.start()
    sampler.join(timeout=5)
    assert len(reads) == 3


def test_the_hosts_cpu_use_comes_from_two_readings_of_its_cpu_times(node_uri: str) -> None:
    clock, times = Clock(), [(100, 1000), (400, 2000), (400, 2000)]
    sampler = Sampler(FakeHost(clock).read, lambda _u, _d: None, stop=threading.Event(), clock=clock,
                      read_host=lambda: times.pop(0))
    sampler.tick()
    assert sampler.host_usage() == {}  # one reading: no rate yet
    clock.now += 60
    sampler.tick()
    assert sampler.host_usage() == {"cpu_used_percent": 30.0}
    busy, total = Host(node_uri).cpu_times()  # the test driver reports fixed times, but real-shaped ones
    assert 0 <= busy <= total and total > 0
