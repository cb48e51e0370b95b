"""What VM metrics cost: the agent's CPU to sample, and the requests, bytes and dollars they add.

1. Sampling CPU: the agent's sampler (fleetvisor_agent.metrics.Sampler) reading
   a real libvirtd + QEMU host (one bulk virConnectGetAllDomainStats per tick)
   for TICKS ticks; the process CPU time per tick, per VM, and so per VM per
   minute at the batch step (60 s) and while a page watches it (5 s).
2. Per host-hour: the batch object (gzipped JSON, one PUT) for 1, 10 and 50
   VMs (an hour of points from counters shaped like QEMU's, varying like a
   busy guest's); the heartbeat bytes the ask and the offer add (no request
   of their own); and its price per idle host-month (bench/prices.py).
3. An open VM page, per hour: the calls its store makes (series every 5 min,
   live ask every minute), the host's live PUTs and the page's live GETs
   (every 20 s), priced with the local API's measured time per call as the
   Lambda's held time, at the configured memory. Measured on the local stack
   with the real QEMU guest. And the week view's read time, over a week of
   hourly batches put into the local bucket.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "agent"))

from fleetvisor_agent.hypervisor.host import Host  # noqa: E402
from fleetvisor_agent.hypervisor.stats import Counters, counters  # noqa: E402
from fleetvisor_agent.metrics import BATCH_SECONDS, LIVE_STEP, LIVE_UPLOAD_SECONDS, STEP_SECONDS, Sampler  # noqa: E402

from bench.prices import Usage, lambda_memory_mb, price  # noqa: E402
from infra import resources  # noqa: E402
from infra.local import LocalStack, StackConfig, free_port  # noqa: E402
from tests.hypervisor.guest import URI, QemuGuest, define_guest, prepare  # noqa: E402

TICKS = 300
HOUR = 3600.0
MONTH_HOURS = 730.5
HEARTBEAT_SECONDS = 420.0  # the agent's default: the ask goes out on the first beat after the batch is due
CALLS = 20
IDLE_HOST_MONTH_TODAY = 0.093  # bench/cost.py's idle host before metrics
SERIES_PER_HOUR = HOUR / 300  # the page's store: REFRESH_MS
ASKS_PER_HOUR = HOUR / 60  # WATCH_MS
LIVE_PER_HOUR = HOUR / LIVE_UPLOAD_SECONDS


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def sampling_cpu(host: Host) -> tuple[float, int]:
    """CPU seconds per tick (every tick records a point: the clock moves a step each time), and the VM count."""
    clock = Clock()
    sampler = Sampler(host.domain_stats, lambda _url, _data: None, stop=threading.Event(), clock=clock)
    sampler.tick()  # the connection is opened once, at start-up
    began = time.process_time()
    for _ in range(TICKS):
        clock.now += STEP_SECONDS
        sampler.tick()
    return (time.process_time() - began) / TICKS, len(host.domain_stats())


def busy_reading(uuid: str, t: float) -> Counters:
    """Counters of a VM `t` seconds into an hour of varied work (what gzip meets in a real batch)."""
    busy = random.random()
    return counters(uuid, f"vm-{uuid[:8]}", {
        "state.state": 1, "cpu.time": int(t * 2e9 * 0.4 + busy * 1e9), "vcpu.current": 2,
        "balloon.current": 2097152, "balloon.rss": 900_000 + random.randrange(200_000),
        "block.count": 1, "block.0.rd.bytes": int(t * 50_000 * busy), "block.0.wr.bytes": int(t * 20_000 * busy),
        "net.count": 1, "net.0.rx.bytes": int(t * 3000 * busy), "net.0.tx.bytes": int(t * 1000 * busy)})


def batch_bytes(vm_count: int) -> int:
    clock = Clock()
    start = clock.now
    uuids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(vm_count)]
    sampler = Sampler(lambda: [busy_reading(u, clock.now - start) for u in uuids], lambda _u, _d: None,
                      stop=threading.Event(), clock=clock)
    for _ in range(int(BATCH_SECONDS / STEP_SECONDS)):
        sampler.tick()
        clock.now += STEP_SECONDS
    return len(sampler.batch_document()[0])


def timed(call: Any) -> float:
    began = time.perf_counter()
    answer = call()
    assert answer.status_code == 200, answer.text
    return time.perf_counter() - began


def page_figures(stack: LocalStack, guest: QemuGuest) -> dict[str, float]:
    """Seconds per series read and per live ask on the local API, and the bytes of the live object and of
    an offer, once the agent (fast settings) has uploaded a batch and put a live object."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    [agent] = session.get(f"{stack.url}/api/agents", timeout=10).json()["agents"]
    vm = f"{stack.url}/api/agents/{agent['agent_id']}/vms/{guest.uuid}/metrics"
    deadline = time.monotonic() + 60
    while session.get(vm, timeout=30).json()["objects"] == 0:
        assert time.monotonic() < deadline, "no batch uploaded"
        time.sleep(1)
    series = [timed(lambda: session.get(vm, timeout=30)) for _ in range(CALLS)]
    asks = [timed(lambda: session.post(f"{vm}/live", timeout=30)) for _ in range(CALLS)]
    url = session.post(f"{vm}/live", timeout=30).json()["live"]["url"]
    deadline = time.monotonic() + 30
    live = requests.get(url, timeout=10)
    while live.status_code != 200:
        assert time.monotonic() < deadline, "no live object"
        time.sleep(1)
        live = requests.get(url, timeout=10)
    week = week_of_batches(stack, agent["agent_id"], guest.uuid)
    weeks = [timed(lambda: session.get(f"{vm}?range=week", timeout=60)) for _ in range(5)]
    return {"series_s": statistics.median(series), "ask_s": statistics.median(asks), "live_bytes": len(live.content),
            "series_objects": session.get(vm, timeout=30).json()["objects"], "week_s": statistics.median(weeks),
            "week_objects": week}


def _reader(clock: Clock, vm_uuid: str, start: float) -> Callable[[], list[Counters]]:
    return lambda: [busy_reading(vm_uuid, clock.now - start)]


def week_of_batches(stack: LocalStack, agent_id: str, vm_uuid: str) -> int:
    """A week of hourly batches of the VM (as an agent uploads them) put into the local bucket: how many."""
    s3 = stack.client("s3")
    bucket = resources.objects_bucket({"Stage": stack.config.stage, "WebOrigin": stack.url})
    now = int(time.time())
    count = int(7 * 24 * HOUR / BATCH_SECONDS)
    for i in range(1, count + 1):
        at = now - int(i * BATCH_SECONDS)
        clock = Clock()
        clock.now = at - BATCH_SECONDS
        sampler = Sampler(_reader(clock, vm_uuid, at - BATCH_SECONDS), lambda _u, _d: None,
                          stop=threading.Event(), clock=clock)
        for _ in range(int(BATCH_SECONDS / STEP_SECONDS)):
            sampler.tick()
            clock.now += STEP_SECONDS
        s3.put_object(Bucket=bucket, Key=f"metrics/{agent_id}/{at:010d}-bench{i:03d}.json.gz",
                      Body=sampler.batch_document()[0])
    return count


def offer_bytes() -> int:
    """The heartbeat answer's `metrics_upload`, as the control plane signs it (a presigned URL, ~600 bytes)."""
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                      aws_secret_access_key="x" * 40, config=Config(signature_version="s3v4"))
    key = f"metrics/ag_{'0' * 32}/{int(time.time()):010d}-0123abcd.json.gz"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "fleetvisor-prod-objects-123456789012-us-east-1",
                                                          "Key": key}, ExpiresIn=900)
    return len(json.dumps({"metrics_upload": {"url": url, "max_bytes": 524288, "expires_at": int(time.time())}}))


def main() -> None:
    random.seed(7)
    memory = lambda_memory_mb()
    guest = define_guest(prepare())
    try:
        guest.ensure_running_ready()
        host = Host(URI)
        cpu_per_tick, vm_count = sampling_cpu(host)
        host.close()
        fast = {"FLEETVISOR_AGENT_METRICS_STEP_SECONDS": "2", "FLEETVISOR_AGENT_METRICS_BATCH_SECONDS": "6",
                "FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "5"}
        with tempfile.TemporaryDirectory() as tmp:
            config = StackConfig(root=Path(tmp), api_port=free_port(), spa_dir=None, libvirt_uri=URI,
                                 admin_password="bench admin password", agent_name="bench-metrics", agent_env=fast)
            with LocalStack(config) as stack:
                stack.wait_for_agents(1)
                page = page_figures(stack, guest)
    finally:
        guest.remove()
    report(cpu_per_tick, vm_count, page, memory)


def report(cpu_per_tick: float, vm_count: int, page: dict[str, float], memory: int) -> None:
    per_vm_minute = cpu_per_tick / vm_count * (60 / STEP_SECONDS)
    print(f"metrics: sampling {vm_count} VM(s) on real libvirtd + QEMU, {TICKS} ticks (one bulk stats call each)")
    print(f"  agent CPU: {cpu_per_tick * 1000:.2f} ms per tick; {per_vm_minute * 1000:.2f} ms per VM per minute at "
          f"the {STEP_SECONDS:.0f} s step; {cpu_per_tick / vm_count * 60 / LIVE_STEP * 1000:.1f} ms per VM per "
          f"minute while a page watches it ({LIVE_STEP:.0f} s)")
    uploads = MONTH_HOURS * HOUR / (BATCH_SECONDS + HEARTBEAT_SECONDS / 2)
    offer = offer_bytes()
    print(f"  per host-hour: 0 API requests added; {HOUR / (BATCH_SECONDS + HEARTBEAT_SECONDS / 2):.2f} S3 PUT "
          f"(the batch); heartbeat bytes +26 (ask) and +{offer} (offer) once an hour")
    for count in (1, 10, 50):
        print(f"    batch object, {count:2d} VM(s): {batch_bytes(count):7d} bytes gzipped per host-hour")
    month = price(Usage(direct_s3={"PUT": uploads}), memory)
    added = sum(month.values())
    print(f"  idle host-month: {uploads:.0f} PUTs = ${added:.4f} (+ storage, 30 days of ~KB objects: < $0.0001); "
          f"${IDLE_HOST_MONTH_TODAY:.3f} before -> ${IDLE_HOST_MONTH_TODAY + added:.4f}, target <= $0.10")
    hour = page_hour(page, memory)
    print(f"  open VM page, per hour: series every 5 min ({page['series_s'] * 1000:.0f} ms each, "
          f"{page['series_objects']:.0f} objects read), live ask every minute ({page['ask_s'] * 1000:.0f} ms), "
          f"{LIVE_PER_HOUR:.0f} live PUTs + GETs of {page['live_bytes']:.0f} bytes: ${sum(hour.values()):.5f} "
          f"(target <= $0.002)")
    print("    " + ", ".join(f"{k} ${v:.5f}" for k, v in hour.items() if v))
    print(f"  week view: {page['week_objects']:.0f} hourly batches read and averaged in {page['week_s'] * 1000:.0f} ms "
          f"(p50 of 5, local API and moto; 16 reads at once)")


def page_hour(page: dict[str, float], memory: int) -> dict[str, float]:
    """An open page's hour: its API calls with what each does in AWS (a series read lists the host's batches
    and gets those in range; an ask sends one SQS message), and the live object's PUTs and GETs."""
    requests_per_hour = SERIES_PER_HOUR + ASKS_PER_HOUR
    usage = Usage(api_requests=requests_per_hour,
                  held_seconds=SERIES_PER_HOUR * page["series_s"] + ASKS_PER_HOUR * page["ask_s"],
                  aws_calls={"s3.ListObjectsV2": SERIES_PER_HOUR, "s3.GetObject": SERIES_PER_HOUR * 2,
                             "sqs.SendMessage": ASKS_PER_HOUR},
                  read_units=requests_per_hour * 2,  # the caller's credentials and the host (guard ahead)
                  direct_s3={"PUT": LIVE_PER_HOUR, "GET": LIVE_PER_HOUR})
    return price(usage, memory)


if __name__ == "__main__":
    main()
