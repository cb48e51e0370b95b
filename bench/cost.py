"""What Fleetvisor costs on AWS, priced from the requests a local stack really serves (issue 15).

Scenarios, each measured in its own window on one local stack (dynalite,
moto, the API, and a real agent on a libvirt test-driver host with 4 VMs):

- an idle host: the agent alone, for --minutes (default 10). Its heartbeats
  are sampled: the bench's agent beats every BEAT_SAMPLE_SECONDS so even a
  quick window holds real ones, and the month is priced per measured beat at
  the design's own interval (7 minutes now, 30 s before). Its doorbell calls
  (credential renewals, about hourly; without a doorbell, a look for one every
  10 minutes) are priced per call measured since the stack started, at that
  cadence;
- 100 jobs: suspend/resume sent one after another as the hosts page sends
  them (bench/cost_clients.py); priced as what they add to an idle host (the
  window's cost minus the idle rate over the same time); the dispatch p50/p99
  (the client's clock at the 202 → the server's claim time) come from them;
- a console: 1 minute of typing (a key every 0.2 s, each echoed as a chunk)
  and 1 minute idle (--console-idle), by an operator reading it as the web
  app does, priced as a whole and, for its idle part alone ("quiet"), as
  the agent's requests and the reader's; served by a simulated agent (this
  stack has no VM with a serial port; bench/console.py has the real QEMU
  figures): the console's own requests, not the host's polls and
  heartbeats (already in the idle host);
- a hosts page open 5 minutes visible, then 5 hidden (--quick: 90 s each, two
  of its 40 s ticks): its `/api/` requests and its reads of the change feed
  straight from the bucket (through the S3-counting proxy, as `direct_s3`).

How it counts: the API runs with infra/meter.py's meter (every request and
the seconds it held, every botocore call with DynamoDB's consumed capacity,
per route), read by SIGUSR1 at each window's edges; presigned S3 requests
(agents' uploads, the browser's chunk reads) pass an HTTP proxy that counts
them. bench/prices.py prices the counts at the API function's configured
memory. Every API request is billed as CloudFront + API Gateway REST + one
Lambda request, and its held seconds as Lambda duration. Not billed here:
the sweeper (one per stage, not per host), data transfer, logs.

Two columns, one stack each (DESIGNS): "API long poll", agents waiting in the
API's long poll (the stack has no doorbell role: what agents fall back to),
and "own queue", agents waiting on their own SQS queue (the default). The
agent's requests to its queue do not pass the API: the stack names an
HTTP-counting proxy as the SQS endpoint agents are handed
(FLEETVISOR_SQS_PUBLIC_ENDPOINT), and a window counts them as `direct_sqs`.
In "own queue" the console's agent waits on its queue too (`QueueConsoleAgent`:
rings, a fetch without waiting, a safety fetch each minute); in "API long
poll" it long-polls its input, as agents did before (and do while their queue
cannot be used). The console's queue requests are the host's own long polls,
which run with or without a console: not counted for the console (a ring ends
one early, so each adds a receive and a delete, $0.80 per million rings). The
"API long poll" column also runs the hosts page as it was before its change
feed (`LongPollHostsPage`: lists every 5 s and a held long poll), so the
page-hour row reads before → after. A further design (pushed changes) sets
`hosts_page`, `agent_background` and WebSocket counts (bench/prices.py's
`Usage`).

Usage: python bench/cost.py [--quick] [--minutes 10] [--jobs 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "agent"), str(REPO / "functions")]

from chalicelib.settings import Settings  # noqa: E402
from fleetvisor_agent.config import DEFAULT_HEARTBEAT_SECONDS  # noqa: E402
from fleetvisor_agent.sigv4 import REFRESH_MARGIN  # noqa: E402
from fleetvisor_agent.waiting import NO_DOORBELL_SECONDS  # noqa: E402

from bench.cost_clients import (  # noqa: E402
    ConsoleAgent,
    HostsPage,
    JobsOperator,
    LongPollHostsPage,
    QueueConsoleAgent,
)
from bench.hosts import many_vms_node  # noqa: E402
from bench.prices import PRICES, Usage, lambda_memory_mb, price, unpriced  # noqa: E402
from infra.local import LocalStack, StackConfig, free_port  # noqa: E402
from infra.meter import METER_FILE_ENV, read_after_signal  # noqa: E402
from tests.e2e.console_terminal import ConsoleTerminal  # noqa: E402
from tests.e2e.tcp_proxy import TcpProxy  # noqa: E402

HOUR = 3600.0
MONTH = 730 * HOUR  # AWS's month
VMS = 4
KEY_INTERVAL = 0.2


BEAT_SAMPLE_SECONDS = 10.0
CREDENTIAL_SECONDS = Settings().doorbell_credential_seconds
HEARTBEAT = "POST /agent/v1/heartbeat"
DOORBELL = "POST /agent/v1/doorbell"


@dataclass(frozen=True)
class Design:
    name: str
    heartbeat_seconds: float  # how often this design's agents beat
    doorbell_seconds: float  # how often they call `POST /agent/v1/doorbell`
    agent_env: Mapping[str, str] = field(default_factory=dict)
    api_env: Mapping[str, str] = field(default_factory=dict)
    hosts_page: Callable[[str, str], HostsPage | LongPollHostsPage] = HostsPage
    console_agent: Callable[[str, str, int], ConsoleAgent] = ConsoleAgent
    agent_background: frozenset[str] = frozenset({"POST /agent/v1/poll", "POST /agent/v1/heartbeat"})


# Before: every agent waits in the API's long poll (what agents fall back to; no doorbell role), and the
# hosts page refreshes its lists every 5 s beside a held GET /api/changes.
API_POLL = Design("API long poll", 30.0, NO_DOORBELL_SECONDS, api_env={"FLEETVISOR_DOORBELL_ROLE_ARN": ""},
                  hosts_page=LongPollHostsPage)
# Now: agents wait on their own SQS queue (the local stack's default), calling the API to claim and heartbeat,
# and a console waits there for its rings too; the hosts page reads its change feed from the bucket and ticks
# every 40 s.
OWN_QUEUE = Design("own queue", DEFAULT_HEARTBEAT_SECONDS, CREDENTIAL_SECONDS - REFRESH_MARGIN,
                   console_agent=QueueConsoleAgent)
DESIGNS = (API_POLL, OWN_QUEUE)


@dataclass(frozen=True)
class Plan:
    idle_s: float
    jobs: int
    typing_s: float
    console_idle_s: float
    page_s: float  # each of visible and hidden


@dataclass(frozen=True)
class Window:
    """What the API served between two meter snapshots, and the presigned S3 requests meanwhile."""

    seconds: float
    requests: dict[str, dict[str, float]]
    aws: dict[str, dict[str, dict[str, float]]]
    direct_s3: Counter[str]
    direct_sqs: int = 0  # the agent's own requests to its queue (through `sqs_proxy`)

    def usage(self, owns: Callable[[str], bool]) -> Usage:
        """The usage of the route kinds `owns` accepts (and the AWS calls made while serving them)."""
        kinds = [kind for kind in self.requests.keys() | self.aws.keys() if owns(kind)]
        calls: Counter[str] = Counter()
        units = {"read_units": 0.0, "write_units": 0.0}
        for kind in kinds:
            for call, counts in self.aws.get(kind, {}).items():
                calls[call] += int(counts["calls"])
                for unit in units:
                    units[unit] += counts[unit]
        return Usage(api_requests=sum(self.requests.get(k, {}).get("requests", 0) for k in kinds),
                     held_seconds=sum(self.requests.get(k, {}).get("held_s", 0.0) for k in kinds),
                     aws_calls=dict(calls), direct_s3=dict(self.direct_s3),
                     direct_sqs=self.direct_sqs if _agents_own(owns) else 0, **units)

    def rates(self, owns: Callable[[str], bool], per: float) -> dict[str, tuple[float, float]]:
        """Requests and held seconds by route kind, divided by `per` (minutes, jobs)."""
        scale = 1 / per
        rates = {kind: (c["requests"] * scale, c["held_s"] * scale) for kind, c in sorted(self.requests.items())
                 if owns(kind) and c["requests"]}
        if self.direct_sqs and _agents_own(owns):
            rates["SQS: the agent on its own queue"] = (self.direct_sqs * scale, 0.0)
        return rates


def _agents_own(owns: Callable[[str], bool]) -> bool:
    """Whether a usage that takes in these routes takes in the agent's own traffic (its queue's requests
    too): the idle host's and the jobs' do, the console's and the page's do not."""
    return owns("POST /agent/v1/heartbeat")


class Recorder:
    def __init__(self, meter_file: Path, api_pid: int, s3_proxy: TcpProxy, sqs_proxy: TcpProxy) -> None:
        self.meter_file, self.api_pid, self.s3_proxy, self.sqs_proxy = meter_file, api_pid, s3_proxy, sqs_proxy

    def mark(self) -> tuple[float, dict[str, Any], int, int]:
        return (time.monotonic(), read_after_signal(self.meter_file, self.api_pid), len(self.s3_proxy.requests),
                len(self.sqs_proxy.requests))

    def since_start(self) -> Window:
        """Everything the API served since it started (the meter counts from zero); the proxies' counts too."""
        return self.since((time.monotonic(), {"requests": {}, "aws": {}}, 0, 0))

    def since(self, mark: tuple[float, dict[str, Any], int, int]) -> Window:
        started, before, proxied, queued = mark
        now, after, _, _ = self.mark()
        methods = Counter(line.split(" ", 1)[0] for line in self.s3_proxy.requests[proxied:])
        return Window(now - started, minus(after["requests"], before["requests"]),
                      minus(after["aws"], before["aws"]), methods, len(self.sqs_proxy.requests) - queued)


def minus(after: Any, before: Any) -> Any:
    if isinstance(after, dict):
        return {key: minus(value, (before or {}).get(key)) for key, value in after.items()}
    return after - (before or 0)


def api_routes(kind: str) -> bool:
    return kind.split(" ", 1)[-1].startswith("/")


def page_routes(kind: str) -> bool:
    return kind.split(" ", 1)[-1].startswith("/api/")


def agent_routes(kind: str) -> bool:
    return kind.split(" ", 1)[-1].startswith("/agent/")


@dataclass
class Run:
    design: Design
    stack: LocalStack
    recorder: Recorder
    agent_id: str
    token: str

    # -- scenarios ---------------------------------------------------------------
    def idle(self, seconds: float) -> Window:
        mark = self.recorder.mark()
        time.sleep(seconds)
        return self.recorder.since(mark)

    def jobs(self, count: int) -> tuple[Window, list[float]]:
        operator = JobsOperator(self.stack.url, self.token)
        vms = requests.get(f"{self.stack.url}/api/agents/{self.agent_id}/vms", timeout=10,
                           headers={"Authorization": f"Bearer {self.token}"}).json()["vms"]
        states = {vm["uuid"]: vm["state"] for vm in vms}
        claims = []
        mark = self.recorder.mark()
        for i in range(count):
            vm = vms[i % len(vms)]["uuid"]
            action = "suspend" if states[vm] == "running" else "resume"
            job, accepted_ms = operator.act(self.agent_id, vm, action)
            if job["status"] != "succeeded":
                raise SystemExit(f"cost: a job failed: {job}")
            states[vm] = "paused" if action == "suspend" else "running"
            claims.append(max(0.0, job["claimed_ms"] - accepted_ms))
        return self.recorder.since(mark), claims

    def console(self, typing_s: float, idle_s: float) -> tuple[Window, Window, int]:
        """The whole session's window, its quiet part's (nobody typing), and the chunks echoed."""
        agent = self.design.console_agent(self.stack.url, self.stack.mint_enrollment_token(), 1)
        agent.announce()
        serving = threading.Thread(target=agent.run_one_console, daemon=True)
        reader, typist = (requests.Session() for _ in range(2))
        for session in (reader, typist):
            session.headers["Authorization"] = f"Bearer {self.token}"
        mark = self.recorder.mark()
        serving.start()
        term = ConsoleTerminal.open(reader, self.stack.url, f"/api/agents/{agent.agent_id}/vms/{agent.vm['uuid']}")
        term.wait_open()
        reading = threading.Thread(target=_read_until_closed, args=(term,), daemon=True)
        reading.start()
        deadline = time.monotonic() + typing_s
        while time.monotonic() < deadline:
            typist.post(f"{self.stack.url}/api/consoles/{term.console_id}/input",
                        json={"client_id": term.client_id, "data": "x"}, timeout=10).raise_for_status()
            time.sleep(KEY_INTERVAL)
        time.sleep(1)  # the last echo
        quiet_mark = self.recorder.mark()
        time.sleep(idle_s)
        quiet = self.recorder.since(quiet_mark)
        typist.post(f"{self.stack.url}/api/consoles/{term.console_id}/close", timeout=10).raise_for_status()
        serving.join(timeout=60)
        reading.join(timeout=60)
        window = self.recorder.since(mark)
        agent.leave()
        return window, quiet, agent.chunks_sent

    def page(self, seconds: float) -> tuple[Window, Window]:
        page = self.design.hosts_page(self.stack.url, self.token)
        stop, visible = threading.Event(), threading.Event()
        visible.set()
        threads = page.run(stop, visible)
        time.sleep(1)  # past the page's first load: the windows measure it open
        mark = self.recorder.mark()
        time.sleep(seconds)
        shown = self.recorder.since(mark)
        visible.clear()
        mark = self.recorder.mark()
        time.sleep(seconds)
        hidden = self.recorder.since(mark)
        stop.set()
        for thread in threads:
            thread.join(timeout=1)  # a long poll left waiting ends with the stack
        return shown, hidden


def _read_until_closed(term: ConsoleTerminal) -> None:
    while term.status != "closed":
        term.poll(wait=20)


# -- the run -----------------------------------------------------------------------


@dataclass
class Column:
    """One design's figures."""

    usages: dict[str, Usage]
    rates: dict[str, dict[str, tuple[float, float]]]
    claims: list[float]
    notes: list[str]


def measure(design: Design, plan: Plan, root: Path) -> Column:
    s3_proxy, sqs_proxy = TcpProxy(http=True), TcpProxy(http=True)
    meter_file = root / "meter.json"
    # Agents are handed the SQS proxy as their endpoint, so each request they make to their queue is counted.
    config = StackConfig(root=root / "stack", api_port=free_port(), spa_dir=None,
                         libvirt_uri=many_vms_node(root / "host.xml", VMS), admin_password="cost bench password",
                         agent_name="cost-host",
                         agent_env={"FLEETVISOR_AGENT_HEARTBEAT_SECONDS": str(BEAT_SAMPLE_SECONDS), **design.agent_env},
                         extra_api_env={METER_FILE_ENV: str(meter_file),
                                        "FLEETVISOR_S3_PUBLIC_ENDPOINT": s3_proxy.url,
                                        "FLEETVISOR_SQS_PUBLIC_ENDPOINT": sqs_proxy.url, **design.api_env})
    stack = LocalStack(config)
    s3_proxy.upstream_port = sqs_proxy.upstream_port = stack.moto_port
    try:
        with stack:
            [agent] = stack.wait_for_agents(1)
            time.sleep(2)  # the agent's first heartbeat and poll are start-up, not idling
            run = Run(design, stack, Recorder(meter_file, stack.children["api"].proc.pid, s3_proxy, sqs_proxy),
                      agent["agent_id"], stack.login())
            return _scenarios(run, plan)
    finally:
        s3_proxy.close()
        sqs_proxy.close()


def _scenarios(run: Run, plan: Plan) -> Column:
    print(f"cost [{run.design.name}]: idle host for {plan.idle_s:.0f} s", file=sys.stderr, flush=True)
    idle = run.idle(plan.idle_s)
    print(f"cost [{run.design.name}]: {plan.jobs} jobs", file=sys.stderr, flush=True)
    jobs, claims = run.jobs(plan.jobs)
    print(f"cost [{run.design.name}]: console", file=sys.stderr, flush=True)
    console, quiet, chunks = run.console(plan.typing_s, plan.console_idle_s)
    print(f"cost [{run.design.name}]: hosts page", file=sys.stderr, flush=True)
    shown, hidden = run.page(plan.page_s)
    idle_rate = idle.usage(api_routes).scaled(1 / idle.seconds)  # as sampled: what the jobs' window also holds
    not_background = lambda kind: api_routes(kind) and kind not in run.design.agent_background  # noqa: E731
    usages = {
        "idle host-month": idle_month(idle, run.recorder.since_start(), run.design),
        "open page-hour, visible": shown.usage(page_routes).scaled(HOUR / shown.seconds),
        "open page-hour, hidden": hidden.usage(page_routes).scaled(HOUR / hidden.seconds),
        "console-hour": console.usage(not_background).scaled(HOUR / console.seconds),
        "quiet console-hour, agent": quiet.usage(lambda kind: not_background(kind) and agent_routes(kind))
        .scaled(HOUR / quiet.seconds),
        "quiet console-hour, reader": quiet.usage(page_routes).scaled(HOUR / quiet.seconds),
        "1,000 jobs": (jobs.usage(api_routes) - idle_rate.scaled(jobs.seconds)).scaled(1000 / len(claims)),
    }
    rates = {"idle host, per minute": idle.rates(api_routes, idle.seconds / 60),
                  "open page (visible), per minute": shown.rates(page_routes, shown.seconds / 60),
                  "console, per minute": console.rates(not_background, console.seconds / 60),
                  "console nobody types into, per minute": quiet.rates(not_background, quiet.seconds / 60),
                  "jobs, per job, with the host's own polls and heartbeats meanwhile":
                      jobs.rates(api_routes, len(claims))}
    notes = [f"console: {console.seconds:.0f} s open, {chunks} chunks echoed, "
             f"{sum(console.direct_s3.values())} presigned S3 requests",
             f"jobs: {len(claims)} in {jobs.seconds:.0f} s",
             f"idle host: heartbeats sampled every {BEAT_SAMPLE_SECONDS:.0f} s (the per-minute rates above), priced "
             f"at one per {run.design.heartbeat_seconds:.0f} s; a doorbell call every "
             f"{run.design.doorbell_seconds / 60:.0f} min"]
    return Column(usages, rates, claims, notes)


# -- the report --------------------------------------------------------------------


def idle_month(idle: Window, whole: Window, design: Design) -> Usage:
    """An idle host's month: its waiting as measured, its beats per measured beat at the design's interval,
    and its `doorbell` calls per measured call at their cadence (credential renewals on its own queue; a
    look for a doorbell every NO_DOORBELL_SECONDS in the API's long poll)."""
    beats = idle.requests.get(HEARTBEAT, {}).get("requests", 0)
    if not beats:
        raise SystemExit(f"cost: no heartbeat in the {idle.seconds:.0f} s idle window")
    beat = _api_only(idle.usage(lambda kind: kind == HEARTBEAT))
    asked = _api_only(idle.usage(lambda kind: kind == DOORBELL))
    month = (idle.usage(api_routes) - beat - asked).scaled(MONTH / idle.seconds)
    month += beat.scaled(MONTH / design.heartbeat_seconds / beats)
    calls = whole.requests.get(DOORBELL, {}).get("requests", 0)
    if calls:
        month += _api_only(whole.usage(lambda kind: kind == DOORBELL)).scaled(MONTH / design.doorbell_seconds / calls)
    return month


def _api_only(usage: Usage) -> Usage:
    """A usage without the window's presigned S3 and queue requests (which no one route makes)."""
    return replace(usage, direct_s3={}, direct_sqs=0.0)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(columns: dict[str, Column], plan: Plan, memory_mb: int) -> None:
    print(f"cost: AWS list prices ({PRICES.region}, {PRICES.as_of}; bench/prices.py), API function at "
          f"{memory_mb} MB (functions/.chalice/config.json, dev)")
    print(f"  windows: idle host {plan.idle_s / 60:.1f} min; {plan.jobs} jobs; console {plan.typing_s:.0f} s typing "
          f"+ {plan.console_idle_s:.0f} s idle; hosts page {plan.page_s / 60:.1f} min visible + "
          f"{plan.page_s / 60:.1f} min hidden")
    names = list(columns)
    print(f"  {'':34s}" + "".join(f"{name:>14s}" for name in names))
    first = columns[names[0]]
    for scenario in first.usages:
        cells = "".join(f"{_dollars(sum(price(c.usages[scenario], memory_mb).values())):>14s}"
                        for c in columns.values())
        print(f"  $ per {scenario:28s}{cells}")
    for label, p in (("p50", 50), ("p99", 99)):
        cells = "".join(f"{pct(c.claims, p):>11.0f} ms" for c in columns.values())
        print(f"  dispatch API 202 -> claim {label:8s}{cells}")
    for name, column in columns.items():
        _breakdown(name, column, memory_mb)


def _breakdown(name: str, column: Column, memory_mb: int) -> None:
    print(f"where it goes [{name}]:")
    for scenario, usage in column.usages.items():
        items = sorted(price(usage, memory_mb).items(), key=lambda item: -item[1])
        shown = ", ".join(f"{item} {_dollars(dollars)}" for item, dollars in items if dollars >= 0.00005)
        print(f"  {scenario}: {shown or 'nothing'}")
        stray = unpriced(usage)
        if stray:
            print(f"    not priced (no price in bench/prices.py): {stray}")
    for scenario, routes in column.rates.items():
        print(f"  {scenario} (requests, seconds held):")
        for kind, (count, held) in routes.items():
            print(f"    {kind:52s} {count:7.2f} {held:8.2f} s")
    for note in column.notes:
        print(f"  {note}")


def _dollars(value: float) -> str:
    return f"${value:.2f}" if abs(value) >= 1 else f"${value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows (about 5 minutes a design)")
    parser.add_argument("--minutes", type=float, default=None, help="the idle host's window (default 10)")
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--console-idle", type=float, default=None,
                        help="seconds the console stays open with nobody typing (default 60, 20 with --quick)")
    args = parser.parse_args()
    # page_s: long enough for the page's 40 s tick to be measured, not missed.
    plan = Plan(idle_s=60, jobs=args.jobs, typing_s=20, console_idle_s=20, page_s=90) if args.quick else \
        Plan(idle_s=600, jobs=args.jobs, typing_s=60, console_idle_s=60, page_s=300)
    if args.minutes is not None:
        plan = replace(plan, idle_s=args.minutes * 60)
    if args.console_idle is not None:
        plan = replace(plan, console_idle_s=args.console_idle)
    columns = {}
    for design in DESIGNS:
        with tempfile.TemporaryDirectory() as tmp:
            columns[design.name] = measure(design, plan, Path(tmp))
    report(columns, plan, lambda_memory_mb())


if __name__ == "__main__":
    main()
