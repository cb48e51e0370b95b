"""VM metrics: a sampler thread that reads libvirt's domain statistics and ships them in batches.

What it costs (issue 17, DESIGN "What idle costs"): every `step` (60 s) one
bulk libvirt call reads every VM's counters (hypervisor/stats.py); rates come
from the difference of two readings. The points wait here, bounded
(MAX_POINTS per VM, MAX_VMS VMs: about 6 hours at the default step), until
the batch is `batch_seconds` (an hour) old. Then the next heartbeat, which
goes out anyway, says `metrics: {"ready": true}`, and its answer carries a
presigned PUT URL (`metrics_upload`) for one gzipped JSON object: one S3 PUT
per host per hour and no API call of its own. An upload that fails keeps
the points for the next offer. Why an hour: each PUT is $0.005 per
thousand, and at one per half hour (1,460 a month, $0.0073) an idle host
would pass its $0.10 a month (bench/cost.py, bench/metrics.py); at one per
hour it adds $0.0037. Nobody sees the lag: a watched VM's live object
carries the points not uploaded yet.

Someone looking at a VM's page asks for it live: the control plane rings the
host's doorbell with `metrics:<vm uuid> <until> <presigned PUT URL>`
(waiting.py routes it here). Until then (about 90 s, asked again by the page
while it is visible) that VM is sampled every LIVE_STEP seconds and its live
object (plain JSON), the fine samples plus the batch points not yet uploaded, is put every
LIVE_UPLOAD_SECONDS: nothing runs for a page nobody looks at.

Points are columns: `t` (Unix seconds) and per metric one list, None where
libvirt had nothing to say (a stopped VM, a driver without that group):
`cpu` (% of the VM's vCPUs), `memory` and `memory_used` (KiB), `disk_read`,
`disk_write`, `net_rx`, `net_tx` (bytes per second).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .claim import UploadTarget
from .client import ApiError
from .hypervisor.errors import HypervisorError
from .hypervisor.stats import Counters

STEP_SECONDS = 60.0
BATCH_SECONDS = 3600.0
LIVE_STEP = 5.0
LIVE_UPLOAD_SECONDS = 20.0  # an open page's budget ($0.002/h) has room for 180 PUTs an hour, not 240
LIVE_MAX_SECONDS = 300  # a ring cannot make the agent sample live for longer than this
MAX_POINTS = 360  # per VM in a batch: 6 hours at 60 s, kept while uploads fail
MAX_LIVE_POINTS = 120  # 10 minutes at 5 s
MAX_VMS = 512
METRICS = ("cpu", "memory", "memory_used", "disk_read", "disk_write", "net_rx", "net_tx")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

log = logging.getLogger(__name__)
Point = tuple[float, ...]  # t, then METRICS in order (None where unknown)
Upload = Callable[[str, bytes], None]


def point(before: Counters | None, before_t: float, now: Counters, now_t: float) -> tuple[Any, ...]:
    """One point from two readings of a VM `now_t - before_t` seconds apart (rates None without a before)."""
    seconds = now_t - before_t
    return (round(now_t), _cpu(before, now, seconds), now.memory_kib, now.memory_used_kib,
            _rate(before, now, "disk_read_bytes", seconds), _rate(before, now, "disk_write_bytes", seconds),
            _rate(before, now, "net_rx_bytes", seconds), _rate(before, now, "net_tx_bytes", seconds))


def _cpu(before: Counters | None, now: Counters, seconds: float) -> float | None:
    delta = _delta(before, now, "cpu_time_ns")
    if delta is None or seconds <= 0:
        return None
    return round(100.0 * delta / (seconds * 1e9 * max(1, now.vcpus or 1)), 1)


def _rate(before: Counters | None, now: Counters, name: str, seconds: float) -> int | None:
    delta = _delta(before, now, name)
    return None if delta is None or seconds <= 0 else round(delta / seconds)


def _delta(before: Counters | None, now: Counters, name: str) -> int | None:
    """The counter's growth; None if either reading lacks it or it went back (the VM restarted)."""
    old = getattr(before, name) if before is not None else None
    new = getattr(now, name)
    if old is None or new is None or new < old:
        return None
    return int(new - old)


def columns(name: str, points: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A VM's points as the columns the objects hold."""
    series: dict[str, Any] = {"name": name, "t": [p[0] for p in points]}
    for i, metric in enumerate(METRICS, start=1):
        series[metric] = [p[i] for p in points]
    return series


@dataclass
class _Vm:
    name: str
    points: deque[tuple[Any, ...]] = field(default_factory=lambda: deque(maxlen=MAX_POINTS))
    live: deque[tuple[Any, ...]] = field(default_factory=lambda: deque(maxlen=MAX_LIVE_POINTS))


@dataclass
class _Live:
    vm_uuid: str
    until: float  # wall clock
    url: str = field(repr=False)
    uploaded_at: float = 0.0


class Sampler:
    """The sampler thread. `read` is Host.domain_stats; `upload(url, data)` a presigned PUT (ControlPlane.upload)."""

    def __init__(self, read: Callable[[], list[Counters]], upload: Upload, *, stop: threading.Event,
                 read_host: Callable[[], tuple[int, int]] | None = None,
                 step: float = STEP_SECONDS, batch_seconds: float = BATCH_SECONDS, live_step: float = LIVE_STEP,
                 live_upload_seconds: float = LIVE_UPLOAD_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.step = step
        self.batch_seconds = batch_seconds
        self.live_step = live_step
        self.live_upload_seconds = live_upload_seconds
        self._read = read
        self._read_host = read_host
        self._host_prev: tuple[int, int] | None = None
        self._host_cpu: float | None = None  # % of all the host's CPUs busy over the last step
        self._upload = upload
        self._stop = stop
        self._clock = clock
        self._lock = threading.Condition()
        self._vms: dict[str, _Vm] = {}
        self._batch_prev: tuple[float, dict[str, Counters]] | None = None
        self._live_prev: tuple[float, dict[str, Counters]] | None = None
        self._next_batch_at = 0.0
        self._offer: UploadTarget | None = None
        self._live: _Live | None = None
        self._thread = threading.Thread(target=self._loop, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # -- what the heartbeat and the doorbell hand over ---------------------------------------------

    def heartbeat_fields(self) -> dict[str, Any]:
        """What the next heartbeat says: ask for an upload URL once the oldest point is a batch old."""
        with self._lock:
            oldest = min((vm.points[0][0] for vm in self._vms.values() if vm.points), default=None)
        return {"metrics": {"ready": True}} if oldest is not None and self._clock() - oldest >= self.batch_seconds \
            else {}

    def offered(self, answer: dict[str, Any]) -> None:
        """A heartbeat answer: keep its `metrics_upload` URL, which the sampler thread uses at once."""
        target = UploadTarget.of(answer.get("metrics_upload"))
        if target is not None:
            with self._lock:
                self._offer = target
                self._lock.notify_all()

    def rung(self, body: str) -> None:
        """A `metrics:` ring's rest, `<vm uuid> <until> <url>`: sample that VM live until then."""
        parts = body.split(" ")
        if len(parts) != 3 or not UUID_RE.fullmatch(parts[0]) or not parts[1].isdigit() \
                or not parts[2].startswith(("https://", "http://")):
            log.warning("a metrics ring this agent cannot read was dropped")
            return
        until = min(float(parts[1]), self._clock() + LIVE_MAX_SECONDS)
        with self._lock:
            uploaded_at = self._live.uploaded_at if self._live and self._live.vm_uuid == parts[0] else 0.0
            self._live = _Live(parts[0], until, parts[2], uploaded_at)
            self._lock.notify_all()

    # -- the thread ----------------------------------------------------------------------------------

    def tick(self) -> None:
        """One reading: a batch point per VM when one is due, a live point for a watched VM, and the uploads
        that are due. Called by the thread; tests call it directly."""
        now = self._clock()
        try:
            readings = {c.uuid: c for c in self._read()}
        except HypervisorError as exc:
            log.debug("no statistics this time error=%s", exc.code)
            readings = None
        live = self._current_live(now)
        if readings is not None:
            self._record(now, readings, live)
        self._upload_batch(now)
        if live is not None and now - live.uploaded_at >= self.live_upload_seconds:
            self._upload_live(now, live)

    def _current_live(self, now: float) -> _Live | None:
        with self._lock:
            if self._live is not None and now >= self._live.until:
                self._live = None
                self._live_prev = None
            return self._live

    def _record(self, now: float, readings: dict[str, Counters], live: _Live | None) -> None:
        with self._lock:
            if now >= self._next_batch_at:
                self._sample_host()
                self._add(now, readings, self._batch_prev, lambda vm: vm.points)
                self._batch_prev = (now, readings)
                self._next_batch_at = now + self.step * 0.98  # a tick a little early still counts
            if live is not None and live.vm_uuid in readings:
                self._add(now, {live.vm_uuid: readings[live.vm_uuid]}, self._live_prev, lambda vm: vm.live)
                self._live_prev = (now, readings)
            self._forget_gone(readings)

    def _sample_host(self) -> None:
        if self._read_host is None:
            return
        try:
            busy, total = self._read_host()
        except HypervisorError:
            return
        if self._host_prev is not None and total > self._host_prev[1]:
            self._host_cpu = round(100.0 * (busy - self._host_prev[0]) / (total - self._host_prev[1]), 1)
        self._host_prev = (busy, total)

    def host_usage(self) -> dict[str, float]:
        """What the heartbeat adds to the host's capabilities: its CPU use over the last step, once known."""
        with self._lock:
            return {} if self._host_cpu is None else {"cpu_used_percent": max(0.0, min(100.0, self._host_cpu))}

    def _add(self, now: float, readings: dict[str, Counters], prev: tuple[float, dict[str, Counters]] | None,
             into: Callable[[_Vm], deque[tuple[Any, ...]]]) -> None:
        before_t, before = prev if prev is not None else (now, {})
        for uuid, counters in readings.items():
            vm = self._vms.get(uuid)
            if vm is None:
                if len(self._vms) >= MAX_VMS:
                    continue
                vm = self._vms[uuid] = _Vm(counters.name)
            vm.name = counters.name
            into(vm).append(point(before.get(uuid), before_t, counters, now))

    def _forget_gone(self, readings: dict[str, Counters]) -> None:
        """A VM no longer on the host is forgotten once nothing of it waits for an upload."""
        for uuid in [u for u, vm in self._vms.items() if u not in readings and not vm.points]:
            del self._vms[uuid]

    def batch_document(self) -> tuple[bytes, dict[str, int]]:
        """The gzipped batch object and how many points of each VM it holds (to drop them once uploaded)."""
        with self._lock:
            vms = {uuid: columns(vm.name, list(vm.points)) for uuid, vm in self._vms.items() if vm.points}
            sent = {uuid: len(self._vms[uuid].points) for uuid in vms}
        return _gzip({"v": 1, "step": self.step, "vms": vms}), sent

    def _upload_batch(self, now: float) -> None:
        with self._lock:
            target, self._offer = self._offer, None
        if target is None:
            return
        data, sent = self.batch_document()
        if not sent:
            return
        if not target.takes(len(data)):
            log.warning("metrics batch too large to upload bytes=%d; dropped", len(data))
        elif not self._put(target.url, data, "batch"):
            return  # kept for the next offer
        with self._lock:
            for uuid, count in sent.items():
                for _ in range(min(count, len(self._vms[uuid].points))):
                    self._vms[uuid].points.popleft()

    def live_document(self, vm_uuid: str) -> bytes:
        """A watched VM's live object: its fine samples, and its batch points not yet uploaded."""
        with self._lock:
            vm = self._vms.get(vm_uuid)
            fine = columns(vm.name, list(vm.live)) if vm else columns("", [])
            batch = columns(vm.name, list(vm.points)) if vm else columns("", [])
        # Plain JSON: the page reads it as it is through a presigned GET (a few KiB, put every 20 s).
        return json.dumps({"v": 1, "vm_uuid": vm_uuid, "step": self.live_step, "live": fine,
                           "batch_step": self.step, "pending": batch}, separators=(",", ":")).encode()

    def _upload_live(self, now: float, live: _Live) -> None:
        live.uploaded_at = now
        self._put(live.url, self.live_document(live.vm_uuid), "live")

    def _put(self, url: str, data: bytes, what: str) -> bool:
        try:
            self._upload(url, data)
        except ApiError as exc:
            log.warning("metrics %s upload failed error=%s", what, exc)
            return False
        log.debug("metrics %s uploaded bytes=%d", what, len(data))
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            with self._lock:
                pause = self.live_step if self._live is not None else self.step
                if self._offer is None and not self._stop.is_set():
                    self._lock.wait(pause)


def _gzip(document: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), compresslevel=6, mtime=0)
