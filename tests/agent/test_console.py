"""`console.attach`'s input side (jobs/console.py) in its two modes: on the host's own queue it fetches when
rung (or when an output answer says input waits, or its slow safety timer fires) and asks the API nothing
in between; waiting in the API it long-polls. The control plane and the serial port are scripted here; the
real chain runs in tests/e2e/test_qemu_stack.py."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fleetvisor_agent.jobs import Link
from fleetvisor_agent.jobs.base import Result
from fleetvisor_agent.jobs.console import INPUT_WAIT, handle
from fleetvisor_agent.verify import VerifiedJob
from fleetvisor_agent.waiting import ConsoleRings

CONSOLE_ID = "0123456789abcdef0123456789abcdef"


class ScriptedPlane:
    """The control plane's console calls: input an operator typed waits in `pending`; every call is noted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[dict[str, Any]] = []
        self.status = "open"
        self.input_waiting = False
        self.fetches: list[tuple[float, int]] = []  # (when, wait) of each input call
        self.reports = 0
        self.typed = 0

    def type(self, data: str) -> None:
        with self.lock:
            self.typed += 1
            self.pending.append({"seq": self.typed, "data": data})

    def console_attach(self, console_id: str, claim_token: str) -> dict[str, Any]:
        return {"next_seq": 1, "input_after": 0, "uploads": self._uploads(1), "max_chunk_bytes": 16384,
                "status": self.status}

    def console_input(self, console_id: str, claim_token: str, after: int, wait: int) -> dict[str, Any]:
        with self.lock:
            self.fetches.append((time.monotonic(), wait))
            self.pending = [entry for entry in self.pending if entry["seq"] > after]
            pending = list(self.pending)
        if not pending and wait and self.status == "open":
            time.sleep(0.05)  # a long poll that found nothing (shortened: only its `wait` matters here)
        return {"input": pending, "status": self.status, "closed_reason": "requested" if self.status != "open"
                else None}

    def console_output(self, console_id: str, claim_token: str, chunks: list[dict[str, int]],
                       detached: str | None = None) -> dict[str, Any]:
        with self.lock:
            self.reports += 1
        first = chunks[-1]["seq"] + 1 if chunks else 1
        return {"uploads": self._uploads(first), "status": "closed" if detached else self.status,
                "closed_reason": detached, "input_waiting": self.input_waiting}

    def upload(self, url: str, data: bytes, *, budget: float = 0) -> None:
        pass

    def server_now(self) -> float:
        return time.time()

    def waits(self) -> list[int]:
        with self.lock:
            return [wait for _, wait in self.fetches]

    @staticmethod
    def _uploads(first: int) -> list[dict[str, Any]]:
        return [{"seq": seq, "url": f"http://s3.local/{seq}", "expires_at": int(time.time()) + 900}
                for seq in range(first, first + 8)]


class FakePort:
    """A serial port: what the guest prints is put in by the test, what is typed is kept."""

    def __init__(self) -> None:
        self.printed: queue.Queue[bytes] = queue.Queue()
        self.typed = b""
        self.ended = False

    def read(self, timeout: float) -> bytes | None:
        try:
            return self.printed.get(timeout=timeout) if timeout else self.printed.get_nowait()
        except queue.Empty:
            return None if self.ended else b""

    def wait_for_more(self, seconds: float, enough: int) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.typed += data

    def close(self) -> None:
        self.ended = True


class FakeHost:
    def __init__(self, port: FakePort) -> None:
        self.port = port

    def guest(self, vm_uuid: str) -> Any:
        return self

    def open_console(self) -> FakePort:
        return self.port


class Console:
    """One console.attach job running in a thread against the scripted plane and port."""

    def __init__(self, rings: ConsoleRings | None) -> None:
        self.plane, self.port, self.rings = ScriptedPlane(), FakePort(), rings
        self.job = VerifiedJob(job_id="job_c", agent_id="ag_t", op="console.attach",
                               args={"vm_uuid": "00000000-0000-0000-0000-000000000001", "console_id": CONSOLE_ID},
                               issued_at=0, expires_at=1, attempt=1, kid="k")
        self.result: list[Result] = []
        link = Link(self.plane, "ct-1", rings)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=lambda: self.result.append(
            handle(self.job, FakeHost(self.port), link)), daemon=True)  # type: ignore[arg-type]

    def close(self) -> Result:
        self.plane.status = "closing"
        if self.rings is not None:
            self.rings.ring(CONSOLE_ID)
        self.thread.join(timeout=5)
        assert self.result, "the session did not end"
        return self.result[0]


def _until(check: Callable[[], bool], within: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"{what} not within {within} s"
        time.sleep(0.01)
    return time.monotonic() - started


class Listening:
    """Whether the agent reads its queue now: what the runner's QueueWaiter.listening says."""

    def __init__(self) -> None:
        self.value = True

    def __call__(self) -> bool:
        return self.value


@pytest.fixture
def on_queue() -> Iterator[tuple[Console, Listening]]:
    listening = Listening()
    console = Console(ConsoleRings(listening, safety_fetch_seconds=60))
    console.thread.start()
    yield console, listening
    console.plane.status = "closing"
    console.port.ended = True
    console.thread.join(timeout=5)


def test_on_its_queue_a_quiet_console_asks_nothing_and_a_ring_brings_the_input_at_once(
        on_queue: tuple[Console, Listening]) -> None:
    console, _ = on_queue
    _until(lambda: console.plane.waits() == [0], 2, "the first fetch")
    time.sleep(1.5)
    assert console.plane.waits() == [0]  # nobody typed: no call, nothing held in the API

    console.plane.type("ls\r")
    console.rings.ring(CONSOLE_ID)  # type: ignore[union-attr]
    _until(lambda: console.port.typed == b"ls\r", 1, "the typed input")  # not the 60 s safety fetch
    assert console.plane.waits() == [0, 0]
    result = console.close()
    assert (result.exit_code, result.summary) == (0, "console closed: requested")
    assert set(console.plane.waits()) == {0}  # never a long poll


def test_a_lost_ring_costs_at_most_the_safety_fetch() -> None:
    console = Console(ConsoleRings(lambda: True, safety_fetch_seconds=0.6))
    console.thread.start()
    _until(lambda: console.plane.waits() == [0], 2, "the first fetch")
    console.plane.type("uptime\r")  # typed, but its ring never comes
    waited = _until(lambda: console.port.typed == b"uptime\r", 3, "the input after a lost ring")
    assert 0.3 < waited < 1.5, waited
    assert console.close().exit_code == 0


def test_an_output_answer_saying_input_waits_counts_as_a_ring(on_queue: tuple[Console, Listening]) -> None:
    console, _ = on_queue
    _until(lambda: console.plane.waits() == [0], 2, "the first fetch")
    console.plane.type("q")  # its ring is lost, but the guest prints and the report's answer says input waits
    console.plane.input_waiting = True
    console.port.printed.put(b"tick\r\n")
    _until(lambda: console.port.typed == b"q", 1, "the input")
    assert console.plane.reports >= 1


def test_waiting_in_the_api_it_long_polls_and_goes_back_to_rings_when_the_queue_is_read_again(
        on_queue: tuple[Console, Listening]) -> None:
    console, listening = on_queue
    _until(lambda: console.plane.waits() == [0], 2, "the first fetch")
    listening.value = False  # the agent waits in the API now: nothing reads the console's rings
    _until(lambda: INPUT_WAIT in console.plane.waits(), 1, "a long poll")
    console.plane.type("pwd\r")
    _until(lambda: console.port.typed == b"pwd\r", 1, "input by the long poll")
    listening.value = True
    _until(lambda: console.plane.waits()[-1] == 0, 1, "a fetch on the queue again")
    settled = len(console.plane.waits())
    time.sleep(1)
    assert len(console.plane.waits()) == settled  # quiet again, waiting for a ring


def test_without_rings_an_agent_long_polls_as_before() -> None:
    console = Console(None)
    console.thread.start()
    _until(lambda: len(console.plane.waits()) >= 3, 2, "long polls")
    console.plane.type("w\r")
    _until(lambda: console.port.typed == b"w\r", 1, "input by the long poll")
    assert console.close().exit_code == 0
    assert set(console.plane.waits()) == {INPUT_WAIT}
