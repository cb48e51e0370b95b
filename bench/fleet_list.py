"""The fleet list at issue 17's size: 10,000 VMs on 500 hosts, one owner.

A local stack (dynalite, moto, the API over real HTTP; no agent) is loaded
straight through DynamoDB with 500 approved, online hosts (each with a
capabilities document of a real host's size, which the fleet list must not
drag along) and 20 VMs each, with addresses and labels. Then, as the web app
would after login, it times:

- login, and the first page (`GET /api/vms?limit=FIRST`): what puts the
  first rows on screen, from the login's start (goal: ≤ 1 s);
- the whole list in pages of 1,000: time, requests, bytes (and gzipped);
- a search that matches one VM (the server reads every VM to find it);
- for comparison, the old way: `GET /api/agents` and then one
  `GET /api/agents/{id}/vms` per host (501 requests).

Each is run `--runs` times; the best and the median are printed.

    python bench/fleet_list.py [--hosts 500] [--vms-per-host 20] [--first 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from infra.local import LocalStack, StackConfig, free_port  # noqa: E402

PASSWORD = "fleet list bench password 1"
STATES = ("running", "running", "running", "shutoff", "paused")
# What a real host's heartbeat leaves in its capabilities (pools, networks, versions): a few KB.
CAPABILITIES = json.dumps({"hypervisor": "QEMU", "cpu_count": 64, "memory_total_kib": 512 * 1024 * 1024,
                           "pools": [{"name": f"pool-{i}", "capacity": 10**12, "available": 10**11,
                                      "path": f"/var/lib/libvirt/images/pool-{i}"} for i in range(12)],
                           "networks": [{"name": f"net-{i}", "bridge": f"virbr{i}", "active": True}
                                        for i in range(8)],
                           "libvirt_version": "9.0.0", "qemu_version": "7.2.0", "kvm": True})


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _host_item(owner_id: str, index: int, now_ms: int) -> dict[str, Any]:
    return {"agent_id": _s("ag_" + uuid.uuid4().hex), "owner_id": _s(owner_id), "name": _s(f"host-{index:03d}"),
            "hostname": _s(f"host-{index:03d}.rack{index // 40}.example"), "environment": _s("prod"),
            "public_key": _s("A" * 43), "queue_url": _s(""), "capabilities": _s(CAPABILITIES),
            "enrolled_ms": _n(now_ms), "last_seen_ms": _n(now_ms), "revoked": {"BOOL": False},
            "approval": _s("approved"), "labels": _s(json.dumps({"rack": f"r{index // 40}"}))}


def _vm_item(owner_id: str, agent_id: str, index: int, now_ms: int) -> dict[str, Any]:
    return {"agent_id": _s(agent_id), "vm_uuid": _s(str(uuid.uuid4())), "owner_id": _s(owner_id),
            "name": _s(f"vm-{index:05d}"), "state": _s(STATES[index % len(STATES)]), "state_reason": _s("booted"),
            "autostart": {"BOOL": index % 2 == 0}, "persistent": {"BOOL": True}, "vcpus": _n(2 + index % 4),
            "memory_kib": _n(2 * 1024 * 1024), "updated_ms": _n(now_ms),
            "addresses": {"L": [_s(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")]},
            "labels": _s(json.dumps({"tier": ("web", "db", "cache")[index % 3], "team": f"t{index % 7}"}))}


def load(stack: LocalStack, owner_id: str, hosts: int, per_host: int) -> list[str]:
    """Write the hosts and their VMs (25 items a request, 8 at a time); the hosts' ids."""
    now_ms = int(time.time() * 1000)
    host_items = [_host_item(owner_id, i, now_ms) for i in range(hosts)]
    vm_items = [_vm_item(owner_id, h["agent_id"]["S"], i * per_host + j, now_ms)
                for i, h in enumerate(host_items) for j in range(per_host)]
    stage = stack.config.stage
    batches = [(f"fleetvisor-{stage}-agents", host_items[i:i + 25]) for i in range(0, len(host_items), 25)]
    batches += [(f"fleetvisor-{stage}-vms", vm_items[i:i + 25]) for i in range(0, len(vm_items), 25)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda batch: _write(stack, *batch), batches))
    return [h["agent_id"]["S"] for h in host_items]


def _write(stack: LocalStack, table: str, items: list[dict[str, Any]]) -> None:
    dynamodb = stack.client("dynamodb")
    pending: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


class Meter:
    """A session that counts its requests and the bytes of their answers."""

    def __init__(self, url: str) -> None:
        self.url, self.session, self.requests, self.bytes, self.gzipped = url, requests.Session(), 0, 0, 0

    def get(self, path: str) -> Any:
        answer = self.session.get(self.url + path, timeout=60)
        answer.raise_for_status()
        self.requests += 1
        self.bytes += len(answer.content)
        self.gzipped += len(gzip.compress(answer.content, 6))
        return answer.json()

    def login(self, email: str) -> None:
        answer = self.session.post(f"{self.url}/api/auth/login", json={"email": email, "password": PASSWORD},
                                   timeout=30)
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def pages(meter: Meter, query: str) -> Iterator[list[dict[str, Any]]]:
    cursor = ""
    while True:
        page = meter.get(f"/api/vms?{query}" + (f"&cursor={cursor}" if cursor else ""))
        yield page["vms"]
        cursor = page["next_cursor"]
        if not cursor:
            return


def first_rows(stack: LocalStack, first: int) -> dict[str, float]:
    meter = Meter(stack.url)
    start = time.perf_counter()
    meter.login(stack.config.admin_email)
    logged_in = time.perf_counter()
    rows = meter.get(f"/api/vms?limit={first}")["vms"]
    done = time.perf_counter()
    assert len(rows) == first, len(rows)
    return {"login_s": logged_in - start, "first_page_s": done - logged_in, "login_to_rows_s": done - start}


def whole_list(stack: LocalStack, expected: int) -> dict[str, float]:
    meter = Meter(stack.url)
    meter.login(stack.config.admin_email)
    start = time.perf_counter()
    seen = [vm["uuid"] for page in pages(meter, "limit=1000") for vm in page]
    elapsed = time.perf_counter() - start
    assert len(seen) == len(set(seen)) == expected, (len(seen), expected)
    return {"s": elapsed, "requests": meter.requests, "bytes": meter.bytes, "gzipped": meter.gzipped}


def search_one(stack: LocalStack, name: str) -> dict[str, float]:
    meter = Meter(stack.url)
    meter.login(stack.config.admin_email)
    start = time.perf_counter()
    found = [vm["name"] for page in pages(meter, f"limit=1000&search={name}") for vm in page]
    elapsed = time.perf_counter() - start
    assert found == [name], found
    return {"s": elapsed, "requests": meter.requests}


def per_host(stack: LocalStack, expected: int) -> dict[str, float]:
    """The old way: the host list, then each host's VMs."""
    meter = Meter(stack.url)
    meter.login(stack.config.admin_email)
    start = time.perf_counter()
    hosts = meter.get("/api/agents")["agents"]
    count = sum(len(meter.get(f"/api/agents/{host['agent_id']}/vms")["vms"]) for host in hosts)
    elapsed = time.perf_counter() - start
    assert count == expected, (count, expected)
    return {"s": elapsed, "requests": meter.requests, "bytes": meter.bytes}


def _repeat(runs: int, measure: Callable[[], dict[str, float]]) -> dict[str, dict[str, float]]:
    results = [measure() for _ in range(runs)]
    return {name: {"best": min(r[name] for r in results), "median": statistics.median(r[name] for r in results)}
            for name in results[0]}


def _print(title: str, figures: dict[str, dict[str, float]]) -> None:
    shown = ", ".join(f"{name} {f['median']:.3f} (best {f['best']:.3f})" if name.endswith("_s") or name == "s"
                      else f"{name} {f['median']:,.0f}" for name, f in figures.items())
    print(f"  {title}: {shown}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--vms-per-host", type=int, default=20)
    parser.add_argument("--first", type=int, default=200, help="the first page's size (rows on the first screen)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    total = args.hosts * args.vms_per_host
    with tempfile.TemporaryDirectory() as root:
        config = StackConfig(root=Path(root), api_port=free_port(), spa_dir=None, start_agent=False,
                             admin_password=PASSWORD)
        with LocalStack(config) as stack:
            owner_id = requests.get(f"{stack.url}/api/me", timeout=10, headers={
                "Authorization": f"Bearer {stack.login(password=PASSWORD)}"}).json()["user_id"]
            started = time.perf_counter()
            load(stack, owner_id, args.hosts, args.vms_per_host)
            print(f"fleet list: {total:,} VMs on {args.hosts} hosts, loaded into dynalite in "
                  f"{time.perf_counter() - started:.1f} s; medians of {args.runs} runs, seconds", flush=True)
            whole_list(stack, total)  # warm the server's imports and connections once
            _print(f"first {args.first} rows after login", _repeat(args.runs, lambda: first_rows(stack, args.first)))
            _print("whole list, pages of 1,000", _repeat(args.runs, lambda: whole_list(stack, total)))
            _print("search for one VM", _repeat(args.runs, lambda: search_one(stack, f"vm-{total - 1:05d}")))
            _print("old way: host list + one request per host", _repeat(max(1, args.runs // 2),
                                                                       lambda: per_host(stack, total)))
            # The figures are wall-clock times on a shared machine: the load says how shared it was.
            print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)


if __name__ == "__main__":
    main()
