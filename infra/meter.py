"""An opt-in meter for the local API server: what each request held, and every AWS call the process made.

It exists for bench/cost.py, which prices what it counts. Enabled only when
the API is started with FLEETVISOR_METER_FILE naming a file (a caller passes
it through `StackConfig.extra_api_env`); without it no meter is installed.

What it counts, cumulatively from the API's start:
- HTTP: per route kind (`METHOD /route/{template}`, from the app's own route
  table), the requests that arrived and the seconds they were held, from the
  start of handling to the response written: what Lambda bills. A snapshot
  counts the seconds held so far by requests still in flight, so a window
  taken between two snapshots is exact even across a 20 s long poll.
- AWS: every botocore call of every client in the process, per source (the
  route kind being served on that thread, `sweeper`, or `outside requests`)
  and `service.Operation`. Both boto3's clients and PynamoDB's come from
  `botocore.session.Session.create_client`, so the meter wraps that one
  method and registers on each new client's event system (`after-call`,
  `after-call-error`). Retries inside one call count once.
- DynamoDB capacity: the meter asks every call that accepts it for
  `ReturnConsumedCapacity: TOTAL` (dynalite computes it as DynamoDB does for
  the table: 4 KB per read unit, halved when eventually consistent, 1 KB per
  write unit) and adds up what comes back. Where nothing comes back (a failed
  conditional write, which DynamoDB still bills) it counts one unit per
  item; an empty Query or Scan counts DynamoDB's minimum of one read unit
  (half when eventually consistent). Not counted: the extra write units
  DynamoDB bills for updating global secondary indexes.

Reading: send the API process SIGUSR1; a meter thread writes a JSON snapshot
to the file (atomically, `seq` counted up by one) and `read_after_signal`
waits for it. Nothing is reset: a window is the difference of two snapshots.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from chalice.local import RouteMatcher

METER_FILE_ENV = "FLEETVISOR_METER_FILE"
API_PREFIXES = ("/api/", "/agent/")
SWEEPER_THREAD = "sweeper"
OUTSIDE_REQUESTS = "outside requests"
READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
MINIMUM_READ = frozenset({"Query", "Scan"})

_source = threading.local()


class Meter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._matcher: RouteMatcher | None = None
        self._lock = threading.Lock()
        self._requests: dict[str, dict[str, float]] = defaultdict(lambda: {"requests": 0, "held_s": 0.0})
        self._in_flight: dict[int, tuple[str, float]] = {}
        self._aws: dict[str, dict[str, dict[str, float]]] = defaultdict(
            lambda: defaultdict(lambda: {"calls": 0, "read_units": 0.0, "write_units": 0.0}))
        self._seq = 0
        self._wanted = threading.Event()

    # -- setting up ----------------------------------------------------------
    def install(self) -> None:
        """From the main thread, before the app makes its first client."""
        original = botocore.session.Session.create_client
        meter = self

        @functools.wraps(original)
        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            meter.watch(client.meta.events)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        signal.signal(signal.SIGUSR1, lambda *_: self._wanted.set())
        threading.Thread(target=self._write_when_asked, name="meter", daemon=True).start()
        self._wanted.set()

    def know_routes(self, routes: list[str]) -> None:
        self._matcher = RouteMatcher(routes)

    def watch(self, events: Any) -> None:
        events.register("before-parameter-build.dynamodb", _ask_for_capacity)
        events.register("before-call", _name_the_call)
        events.register("after-call", self._after_call)
        events.register("after-call-error", self._after_error)

    # -- HTTP ------------------------------------------------------------------
    def route_kind(self, method: str, target: str) -> str:
        path = urlsplit(target).path
        if not path.startswith(API_PREFIXES):
            return f"{method} (web app files)"
        try:
            route = self._matcher.match_route(target).route if self._matcher else "(no route table)"
        except ValueError:
            route = "(no such route)"
        return f"{method} {route}"

    @contextlib.contextmanager
    def request(self, method: str, target: str) -> Iterator[None]:
        kind, started = self.route_kind(method, target), time.monotonic()
        key = id(threading.current_thread())
        with self._lock:
            self._requests[kind]["requests"] += 1
            self._in_flight[key] = (kind, started)
        _source.kind = kind
        try:
            yield
        finally:
            _source.kind = None
            with self._lock:
                self._in_flight.pop(key, None)
                self._requests[kind]["held_s"] += time.monotonic() - started

    # -- AWS -------------------------------------------------------------------
    def _after_call(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        read, write = _capacity(model.name, parsed, context) if model.service_model.service_name == "dynamodb" \
            else (0.0, 0.0)
        self._count(f"{model.service_model.service_name}.{model.name}", read, write)

    def _after_error(self, context: dict[str, Any], **_: Any) -> None:
        """A call that got no answer (a connection error): botocore names no model here, so before-call did."""
        self._count(context.get("meter_call", "unknown.unknown"), 0.0, 0.0)

    def _count(self, call: str, read_units: float, write_units: float) -> None:
        source = getattr(_source, "kind", None) or (
            SWEEPER_THREAD if threading.current_thread().name == SWEEPER_THREAD else OUTSIDE_REQUESTS)
        with self._lock:
            counts = self._aws[source][call]
            counts["calls"] += 1
            counts["read_units"] += read_units
            counts["write_units"] += write_units

    # -- snapshots -------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            self._seq += 1
            requests = {kind: dict(counts) for kind, counts in self._requests.items()}
            for kind, started in self._in_flight.values():
                requests.setdefault(kind, {"requests": 0, "held_s": 0.0})["held_s"] += now - started
            aws = {source: {call: dict(c) for call, c in calls.items()} for source, calls in self._aws.items()}
            return {"seq": self._seq, "pid": os.getpid(), "requests": requests, "aws": aws}

    def _write_when_asked(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.snapshot()))
            os.replace(tmp, self.path)


def _name_the_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    context["meter_call"] = f"{model.service_model.service_name}.{model.name}"


def _ask_for_capacity(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    if "ReturnConsumedCapacity" in model.input_shape.members and "ReturnConsumedCapacity" not in params:
        params["ReturnConsumedCapacity"] = "TOTAL"
    context["meter_items"] = _items_in(model.name, params)
    context["meter_consistent"] = bool(params.get("ConsistentRead"))


def _items_in(operation: str, params: dict[str, Any]) -> int:
    if operation == "BatchGetItem":
        return sum(len(table.get("Keys", [])) for table in params.get("RequestItems", {}).values())
    if operation == "BatchWriteItem":
        return sum(len(writes) for writes in params.get("RequestItems", {}).values())
    return 1


def _capacity(operation: str, parsed: dict[str, Any], context: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB call: what it reported, else an estimate (module docstring)."""
    if operation not in READS | WRITES:
        return 0.0, 0.0
    reported = parsed.get("ConsumedCapacity")
    entries = reported if isinstance(reported, list) else [reported] if isinstance(reported, dict) else []
    units = sum(float(entry.get("CapacityUnits") or 0) for entry in entries)
    if not entries:
        units = float(context.get("meter_items", 1))
    if operation in MINIMUM_READ:
        units = max(units, 1.0 if context.get("meter_consistent") else 0.5)
    return (units, 0.0) if operation in READS else (0.0, units)


def read_after_signal(path: Path, pid: int, timeout: float = 10) -> dict[str, Any]:
    """Ask the API process `pid` for a snapshot and return it once written."""
    seq = _read(path).get("seq", -1)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = _read(path)
        if snapshot.get("seq", -1) > seq:
            return snapshot
        time.sleep(0.02)
    raise TimeoutError(f"the API (pid {pid}) wrote no meter snapshot to {path} within {timeout:.0f} s")


def _read(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}
