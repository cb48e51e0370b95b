"""A fleet against the local stack: N simulated agents for M minutes while an operator sends jobs to random ones.

The agents (bench/simulated_agent.py) speak the real protocol without
libvirt and wait where the real agent does: by default on their own SQS queue
(`--wait-in queue`: `POST /agent/v1/doorbell` for the queue and STS
credentials, renewed near expiry; ReceiveMessage long polls on moto through the
agent's own `fleetvisor_agent.sqs`; what was rung deleted and claimed with
`poll?wait=0`), or, for comparison, in the API's long poll (`--wait-in api`:
`poll?wait=20` back to back, as agents did before and fall back to). Each
heartbeats at the agent's default interval
(`fleetvisor_agent.config.DEFAULT_HEARTBEAT_SECONDS`). Heartbeats, waits and
credential renewals start spread over one interval, as in a fleet that has
been up a while, and the window opens once every agent is waiting.

Prints: errors; API 202 → claim and → succeeded (p50/p99) for jobs sent one
after another to random agents; requests per idle agent per minute by kind
(an idle agent: one not handed a job in the window); API, moto and dynalite
CPU seconds per agent per minute and their peak thread counts; and the idle
host-month priced by bench/prices.py from what the API served for those
requests (infra/meter.py: held seconds, DynamoDB units and AWS calls per
request of each route, times the idle agent's rate) plus its SQS requests.

How it runs: threads, two per agent (one blocked in its 20 s receive or long
poll, one heartbeating), in `--processes` processes (default 4; a 2-core
machine runs 1,000 agents, 2,000 threads, this way: they are idle almost all
the time). moto's server and the API's local server each hold a thread per
open connection, so each also holds about a thousand threads.

Usage: python bench/fleet.py [--agents 1000] [--minutes 5] [--processes 4] [--wait-in queue|api]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "agent")]  # this tree's agent, not an installed one

from fleetvisor_agent.config import DEFAULT_HEARTBEAT_SECONDS  # noqa: E402

from bench.cost import MONTH, Window, minus, pct  # noqa: E402
from bench.prices import Usage, lambda_memory_mb, price  # noqa: E402
from bench.simulated_agent import (  # noqa: E402
    API_WAIT,
    DELETE,
    DOORBELL,
    HEARTBEAT,
    KINDS,
    POLL,
    RECEIVE,
    SimulatedAgent,
    Tally,
)
from infra.local import LocalStack, StackConfig, free_port  # noqa: E402
from infra.meter import METER_FILE_ENV, read_after_signal  # noqa: E402

SERVERS = ("api", "moto", "dynalite")
STEP = 0.1  # how often each agent process looks at the run's stop and window events
# The API route each kind of agent request is served by, for the meter's figures per request.
# The kinds a wait always shows, even at zero (a one-minute window may see no credential renewal).
SHOWN_KINDS = {"queue": (HEARTBEAT, DOORBELL, POLL, RECEIVE, DELETE), "api": (HEARTBEAT, POLL)}
ROUTES = {HEARTBEAT: "POST /agent/v1/heartbeat", DOORBELL: "POST /agent/v1/doorbell", POLL: "POST /agent/v1/poll"}


def run_agents(url: str, token: str, indexes: list[int], wait_in: str, shared: tuple[Any, ...]) -> None:
    """One process's agents: enrol, heartbeat once, ask where to wait; then wait and heartbeat until `stop`.

    The agents' threads wait on this process's own events, which its main thread keeps in step with the
    run's (polled): a multiprocessing.Event is a lock shared by every process, and a process that exits
    while one of its hundreds of daemon threads holds it (in a timed wait, say) leaves the others blocked
    for good, as an earlier version of this benchmark did at its end."""
    stop, window, ready, results = shared
    here_stop, here_window = threading.Event(), threading.Event()
    tally = Tally(here_window)
    agents = [SimulatedAgent(url, token, index, here_stop, tally) for index in indexes]
    for agent in agents:
        agent.guard(agent.heartbeat)
        if wait_in == "queue":
            agent.guard(agent.queue_in_hand)
    for agent in agents:
        waiting = agent.waits_on_queue if wait_in == "queue" else agent.waits_in_api
        threading.Thread(target=agent.heartbeats, args=(DEFAULT_HEARTBEAT_SECONDS,), daemon=True).start()
        threading.Thread(target=_spread, args=(here_stop, waiting), daemon=True).start()
    ready.release()
    while not stop.is_set():
        if window.is_set():
            here_window.set()
        else:
            here_window.clear()
        time.sleep(STEP)
    here_window.clear()
    here_stop.set()
    results.put(tally.summary(indexes))


def _spread(stop: Any, waiting: Callable[[], None]) -> None:
    """Start waiting at a random moment of one wait, so that the fleet's receives do not end together."""
    stop.wait(random.uniform(0, API_WAIT))
    waiting()


def operator_load(stack: LocalStack, minutes: float) -> tuple[list[float], list[float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    agents = session.get(f"{stack.url}/api/agents", timeout=30).json()["agents"]
    claim, done = [], []
    deadline = time.monotonic() + minutes * 60
    while time.monotonic() < deadline:
        agent = random.choice(agents)
        vm = session.get(f"{stack.url}/api/agents/{agent['agent_id']}/vms", timeout=30).json()["vms"][0]
        answer = session.post(f"{stack.url}/api/agents/{agent['agent_id']}/vms/{vm['uuid']}/actions",
                              json={"action": "reboot"}, timeout=30)
        sent_ms = time.time() * 1000
        job_id = answer.json()["job_id"]
        while time.monotonic() < deadline + 60:
            job = session.get(f"{stack.url}/api/jobs/{job_id}", timeout=30).json()
            if job["final"]:
                claim.append(max(0.0, job["claimed_ms"] - sent_ms))
                done.append(job["finished_ms"] - sent_ms)
                break
            time.sleep(0.02)
        time.sleep(2)
    return claim, done


# -- the servers' side ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


class Servers:
    """The stack's server processes: CPU time between two marks, the most threads each held meanwhile, and
    the API's meter."""

    def __init__(self, stack: LocalStack, meter_file: Path) -> None:
        self.pids = {name: stack.children[name].proc.pid for name in SERVERS}
        self.meter_file = meter_file
        self.peak_threads: Counter[str] = Counter()
        self._sampling = threading.Event()

    def mark(self) -> tuple[float, dict[str, float], dict[str, Any]]:
        return (time.monotonic(), {name: cpu_seconds(pid) for name, pid in self.pids.items()},
                read_after_signal(self.meter_file, self.pids["api"]))

    def sample_threads(self) -> None:
        self._sampling.set()
        threading.Thread(target=self._sample, daemon=True).start()

    def stop_sampling(self) -> None:
        self._sampling.clear()

    def _sample(self) -> None:
        while self._sampling.is_set():
            for name, pid in self.pids.items():
                self.peak_threads[name] = max(self.peak_threads[name], threads(pid))
            time.sleep(1)


# -- the run -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--wait-in", choices=("queue", "api"), default="queue",
                        help="where agents wait for work: their own SQS queue (today's agent) or the API's long poll")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.environ.get("FLEETVISOR_BENCH_ROOT") or tmp)
        meter_file = root / "meter.json"
        config = StackConfig(root=root / "stack", api_port=free_port(), spa_dir=None, start_agent=False,
                             admin_password="fleet bench password", extra_api_env={METER_FILE_ENV: str(meter_file)})
        with LocalStack(config) as stack:
            run(stack, Servers(stack, meter_file), args)


def run(stack: LocalStack, servers: Servers, args: argparse.Namespace) -> None:
    token = stack.mint_enrollment_token(uses=args.agents)
    stop, window, ready = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Semaphore(0)
    results: multiprocessing.Queue[dict[str, Any]] = multiprocessing.Queue()
    shards = [list(range(i, args.agents, args.processes)) for i in range(args.processes)]
    procs = [multiprocessing.Process(target=run_agents, args=(stack.url, token, shard, args.wait_in,
                                                              (stop, window, ready, results)))
             for shard in shards]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    startup = time.monotonic() - started
    time.sleep(API_WAIT + 1)  # every agent is waiting, and its start-up calls are behind it
    servers.sample_threads()
    before = servers.mark()
    window.set()
    time.sleep(2 * STEP)  # every agent process has seen the window open
    claim, done = operator_load(stack, args.minutes)
    window.clear()
    time.sleep(2 * STEP)  # every agent process has seen the window close
    after = servers.mark()
    servers.stop_sampling()
    stop.set()
    summaries = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    report(args, Measured(before, after, summaries, claim, done), servers)
    print(f"  start-up: enrolled, heartbeated once{' and handed credentials' if args.wait_in == 'queue' else ''} "
          f"in {startup:.0f} s")


class Measured:
    """What one window measured: the servers' marks at its edges, each process's tally, the dispatch times."""

    def __init__(self, before: tuple[float, dict[str, float], dict[str, Any]],
                 after: tuple[float, dict[str, float], dict[str, Any]], summaries: list[dict[str, Any]],
                 claim: list[float], done: list[float]) -> None:
        self.minutes = (after[0] - before[0]) / 60
        self.cpu = {name: after[1][name] - before[1][name] for name in after[1]}
        self.served = Window(after[0] - before[0], minus(after[2]["requests"], before[2]["requests"]),
                             minus(after[2]["aws"], before[2]["aws"]), Counter())
        self.agents = sum(s["agents"] for s in summaries)
        self.idle_agents = sum(s["idle_agents"] for s in summaries)
        self.errors = sum(s["errors"] for s in summaries)
        self.idle: Counter[str] = sum((Counter(s["idle"]) for s in summaries), Counter())
        self.all: Counter[str] = sum((Counter(s["all"]) for s in summaries), Counter())
        self.claim, self.done = claim, done

    def idle_rate(self, kind: str) -> float:
        """Requests of `kind` per idle agent per minute."""
        return self.idle[kind] / max(1, self.idle_agents) / self.minutes

    def idle_host_month(self) -> Usage:
        """An idle agent's month: for each API route, what the API served per request of it (held seconds,
        DynamoDB units, AWS calls) times the idle agent's rate; plus its own SQS requests."""
        per_month = MONTH / 60
        usage = Usage(direct_sqs=(self.idle_rate(RECEIVE) + self.idle_rate(DELETE)) * per_month)
        for kind, route in ROUTES.items():
            served = self.served.requests.get(route, {}).get("requests", 0)
            if served and self.idle_rate(kind):
                route_usage = self.served.usage(route.__eq__)
                usage += route_usage.scaled(self.idle_rate(kind) * per_month / served)
        return usage


def report(args: argparse.Namespace, m: Measured, servers: Servers) -> None:
    where = "own SQS queue" if args.wait_in == "queue" else f"API long poll (wait={API_WAIT})"
    print(f"fleet: {m.agents} simulated agents waiting in their {where}, {m.minutes:.1f} min window, "
          f"heartbeat every {DEFAULT_HEARTBEAT_SECONDS:.0f} s (fleetvisor_agent.config), {args.processes} processes")
    print(f"  errors                                 {m.errors}")
    print(f"  jobs dispatched to random agents       {len(m.claim)}")
    if m.claim:
        for label, values in (("claim", m.claim), ("succeeded", m.done)):
            print(f"  API 202 -> {label:28s}p50 {statistics.median(values):7.1f} ms   p99 {pct(values, 99):7.1f} ms")
    print(f"  requests per agent per minute          idle ({m.idle_agents} agents)   all ({m.agents})")
    for kind in KINDS:
        if m.all[kind] or kind in SHOWN_KINDS[args.wait_in]:
            print(f"    {kind:36s}{m.idle_rate(kind):10.3f}{m.all[kind] / m.agents / m.minutes:17.3f}")
    for name in SERVERS:
        print(f"  {name + ' CPU per agent per minute':39s}{m.cpu[name] / m.agents / m.minutes:.5f} s   "
              f"(peak {servers.peak_threads[name]} threads)")
    memory_mb = lambda_memory_mb()
    bill = price(m.idle_host_month(), memory_mb)
    items = ", ".join(f"{item} ${dollars:.4f}" for item, dollars in sorted(bill.items(), key=lambda i: -i[1])
                      if dollars >= 0.00005)
    print(f"  $ per idle host-month                  ${sum(bill.values()):.4f}   (bench/prices.py, API at "
          f"{memory_mb} MB: {items or 'nothing'})")


if __name__ == "__main__":
    main()
