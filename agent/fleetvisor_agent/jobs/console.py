"""`console.attach`: pump a VM's serial console to and from the control plane until the session ends.

Output: bytes from the port are gathered briefly (GATHER_SECONDS after the
first byte, so one keystroke's echo goes out at once) and sent as one chunk:
a plain PUT to the chunk's presigned URL, then an `output` report. While bytes
keep flowing, chunks go out at most every MIN_CHUNK_INTERVAL (and at most
max_chunk_bytes each), so a busy console costs a few requests a second, not
one per line; a quiet one sends nothing.

Input: a thread fetches `input` and types each entry into the port in order.
How it waits between fetches depends on where the agent waits for work:
- on its own queue (ConsoleRings.listening): for the console's ring
  (`console:<id>`, rung when an operator types into an empty backlog or
  closes the session), then fetches with `wait=0`. Nothing is held in the
  API while nobody types. A ring that never comes is covered twice: an
  `output` answer that says `input_waiting` (a console that prints) counts as
  one, and a quiet console fetches anyway every minute
  (waiting.SAFETY_FETCH_SECONDS), so input waits at most that long; that
  fetch is also how an idle session's close reaches a console nobody types
  into.
- in the API (no doorbell, the queue unusable for a while, or every job slot
  busy so that nothing reads the queue): it long-polls `input` (wait
  INPUT_WAIT), as agents did before the ring. It looks up every
  LOOK_UP_SECONDS while it waits for a ring, so it switches within that.
Its answers, like the output reports', carry the session's status: `closing`
ends the pump.

The session ends when the control plane says so (closed by an operator, or
idle), when the stream ends (the VM stopped), or when the job is cancelled.
The last chunk and the reason go out in one final report (`detached`); the
summary, `console closed: <reason>`, is what the job's history shows.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from ..client import ApiError, StaleClaim, Unauthorized, UploadRefused
from ..hypervisor.console import SerialConsole
from ..hypervisor.errors import CONSOLE_BUSY, INVALID_STATE, HypervisorError
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from ..waiting import ConsoleRings
from .base import EXIT_INVALID, EXIT_OK, VM_UUID, ArgsSchema, Link, Pattern, Result, build_result, ms_since

log = logging.getLogger(__name__)

CONSOLE_ID = Pattern(re.compile(r"[0-9a-f]{32}"))
OPS: Mapping[str, ArgsSchema] = {"console.attach": ArgsSchema({"vm_uuid": VM_UUID, "console_id": CONSOLE_ID})}

GATHER_SECONDS = 0.02
MIN_CHUNK_INTERVAL = 0.1
READ_TIMEOUT = 0.25  # how often the pump looks up from the port to see whether it should stop
INPUT_WAIT = 20
LOOK_UP_SECONDS = 0.5  # waiting for a ring, look this often whether it still may (a local check)
RETRY_SECONDS = 1.0
DEFAULT_MAX_CHUNK = 16 * 1024


class SessionOver(Exception):
    """The control plane no longer gives this attempt the session (409/401): stop without a word."""


def handle(job: VerifiedJob, host: Host, link: Link) -> Result:
    started = time.monotonic()
    console_id = str(job.args["console_id"])
    session = _Session(link, console_id)
    try:
        attached = session.attach()
    except SessionOver as exc:
        return build_result(job, summary=f"console lost: {exc}", vm=None, error=None, exit_code=EXIT_OK,
                            duration_ms=ms_since(started))
    if attached.get("status") not in ("opening", "open"):
        reason = str(attached.get("closed_reason") or "requested")
        session.detach(reason, b"")
        return _ended(job, reason, started)
    try:
        port = host.guest(str(job.args["vm_uuid"])).open_console()
    except HypervisorError as exc:
        reason = CONSOLE_BUSY if exc.code == CONSOLE_BUSY else "vm_stopped" if exc.code == INVALID_STATE else "error"
        session.detach(reason, b"")
        return build_result(job, summary=f"console closed: {reason}: {exc.message}", vm=None,
                            error=exc.as_dict(), exit_code=EXIT_INVALID, duration_ms=ms_since(started))
    try:
        with _rung(link, console_id, session.input_waiting):
            reason = _Pump(job, port, session, link.rings).run()
    finally:
        port.close()
    return _ended(job, reason, started)


def _rung(link: Link, console_id: str, event: threading.Event) -> AbstractContextManager[object]:
    """While the pump runs, the console's rings set `event` (nothing to do without rings)."""
    return link.rings.bell(console_id, event) if link.rings is not None else nullcontext()


def _ended(job: VerifiedJob, reason: str, started: float) -> Result:
    return build_result(job, summary=f"console closed: {reason}", vm=None, error=None, exit_code=EXIT_OK,
                        duration_ms=ms_since(started))


class _Session:
    """The control plane's half of one console: chunk URLs, reports, input. Remembers the closing reason."""

    def __init__(self, link: Link, console_id: str) -> None:
        self.link = link
        self.console_id = console_id
        self.next_seq = 1
        self.input_after = 0
        self.max_chunk = DEFAULT_MAX_CHUNK
        self.closing: str | None = None
        self.over = threading.Event()
        self.input_waiting = threading.Event()  # rung, or an output answer said input waits
        self._urls: dict[int, tuple[str, float]] = {}

    def attach(self) -> dict[str, Any]:
        answer = self._call(lambda: self.link.client.console_attach(self.console_id, self.link.claim_token))
        self.next_seq = _int(answer.get("next_seq"), 1)
        self.input_after = _int(answer.get("input_after"), 0)
        self.max_chunk = min(DEFAULT_MAX_CHUNK, _int(answer.get("max_chunk_bytes"), DEFAULT_MAX_CHUNK))
        self._note(answer)
        return answer

    def send(self, data: bytes, stop: threading.Event) -> None:
        """Upload `data` as the next chunk(s) and report them; retried until it works or the session is over."""
        for offset in range(0, len(data), self.max_chunk):
            piece = data[offset:offset + self.max_chunk]
            while not self._send_one(piece) and not stop.wait(RETRY_SECONDS):
                pass

    def detach(self, reason: str, tail: bytes) -> None:
        """The final report: the last bytes, and why this agent lets go. Best effort."""
        try:
            chunks = self._upload(tail) if tail else []
            self._call(lambda: self.link.client.console_output(self.console_id, self.link.claim_token, chunks,
                                                               detached=reason))
        except (SessionOver, ApiError) as exc:
            log.warning("console detach not recorded console_id=%s error=%s", self.console_id, exc)

    def take_input(self, wait: int) -> list[dict[str, Any]]:
        """Input past what was typed; `wait` 0 fetches, more long-polls."""
        answer = self._call(lambda: self.link.client.console_input(self.console_id, self.link.claim_token,
                                                                   self.input_after, wait))
        self._note(answer)
        entries = answer.get("input")
        return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []

    def _send_one(self, piece: bytes) -> bool:
        try:
            chunks = self._upload(piece)
            answer = self._call(lambda: self.link.client.console_output(self.console_id, self.link.claim_token,
                                                                        chunks))
        except ApiError as exc:
            log.warning("console chunk not sent console_id=%s seq=%d error=%s", self.console_id, self.next_seq, exc)
            return self.over.is_set()
        self.next_seq += 1
        self._note(answer)
        return True

    def _upload(self, piece: bytes) -> list[dict[str, int]]:
        seq = self.next_seq
        url = self._url(seq)
        try:
            self.link.client.upload(url, piece, budget=30.0)
        except UploadRefused:  # expired: ask for a fresh window and try once more
            self._urls.clear()
            self.link.client.upload(self._url(seq), piece, budget=30.0)
        return [{"seq": seq, "size": len(piece)}]

    def _url(self, seq: int) -> str:
        known = self._urls.get(seq)
        if known is None or known[1] <= self.link.client.server_now() + 30:
            self._note(self._call(lambda: self.link.client.console_output(self.console_id, self.link.claim_token,
                                                                          [])))
            known = self._urls.get(seq)
        if known is None:
            raise ApiError(0, "no_upload_url", f"no upload URL for chunk {seq}")
        return known[0]

    def _note(self, answer: dict[str, Any]) -> None:
        uploads = answer.get("uploads")
        for upload in uploads if isinstance(uploads, list) else []:
            if isinstance(upload, dict) and isinstance(upload.get("seq"), int) and isinstance(upload.get("url"), str):
                self._urls[upload["seq"]] = (upload["url"], float(upload.get("expires_at") or 0))
        for seq in [seq for seq in self._urls if seq < self.next_seq]:
            del self._urls[seq]
        if answer.get("input_waiting") is True:
            self.input_waiting.set()
        if answer.get("status") in ("closing", "closed") and self.closing is None:
            self.closing = str(answer.get("closed_reason") or "requested")
            self.over.set()

    def _call(self, call: Any) -> dict[str, Any]:
        try:
            answer = call()
        except (StaleClaim, Unauthorized) as exc:
            self.over.set()
            raise SessionOver(str(exc)) from exc
        return answer if isinstance(answer, dict) else {}


class _Pump:
    """Moves bytes both ways until the session, the stream or the job ends; returns the reason."""

    def __init__(self, job: VerifiedJob, port: SerialConsole, session: _Session,
                 rings: ConsoleRings | None = None) -> None:
        self.job = job
        self.port = port
        self.session = session
        self.rings = rings
        self.lost = False

    def run(self) -> str:
        typing = threading.Thread(target=self._type_input, name=f"console-in-{self.session.console_id[:8]}",
                                  daemon=True)
        typing.start()
        last_chunk = 0.0
        tail = b""
        while True:
            if self._stopping():
                tail = self.port.read(0) or b""
                break
            data = self.port.read(READ_TIMEOUT)
            if data is None:
                break
            if not data:
                continue
            # The first bytes after a quiet spell go out at once; a stream of them, in chunks.
            since_last = time.monotonic() - last_chunk
            self.port.wait_for_more(max(GATHER_SECONDS, MIN_CHUNK_INTERVAL - since_last), self.session.max_chunk)
            data += self.port.read(0) or b""
            last_chunk = time.monotonic()
            try:
                self.session.send(data, self.session.over)
            except SessionOver:
                self.lost = True
                break
        self.session.over.set()
        if self.lost:
            return "error"
        reason = self._reason()
        self.session.detach(reason, tail)
        return reason

    def _stopping(self) -> bool:
        return self.session.over.is_set() or self.job.cancelled.is_set()

    def _reason(self) -> str:
        if self.session.closing is not None:
            return self.session.closing
        if self.job.cancelled.is_set():
            return "requested"
        return "vm_stopped" if self.port.ended else "error"

    def _type_input(self) -> None:
        while not self._stopping() and not self.port.ended:
            on_queue = self.rings is not None and self.rings.listening()
            if on_queue:
                self.session.input_waiting.clear()  # before the fetch: a ring during it fetches again
            try:
                entries = self.session.take_input(0 if on_queue else INPUT_WAIT)
            except SessionOver:
                self.lost = True
                return
            except ApiError as exc:
                log.warning("console input poll failed console_id=%s error=%s", self.session.console_id, exc)
                self.session.over.wait(RETRY_SECONDS)
                continue
            if not self._type(entries):
                return
            if on_queue:
                self._wait_for_ring()

    def _wait_for_ring(self) -> None:
        """Until the console is rung (or an output answer says input waits), its safety fetch is due, the
        session ends, or rings stop reaching this agent (it waits in the API now)."""
        assert self.rings is not None
        due = time.monotonic() + self.rings.safety_fetch_seconds
        while not self.session.input_waiting.wait(LOOK_UP_SECONDS):
            if self._stopping() or self.port.ended or time.monotonic() >= due or not self.rings.listening():
                return

    def _type(self, entries: list[dict[str, Any]]) -> bool:
        """Type the entries not typed yet into the port, in order; False once the port refuses."""
        for entry in entries:
            seq, data = entry.get("seq"), entry.get("data")
            if not isinstance(seq, int) or not isinstance(data, str) or seq <= self.session.input_after:
                continue
            try:
                self.port.write(data.encode())
            except HypervisorError as exc:
                log.info("console input not typed console_id=%s error=%s", self.session.console_id, exc)
                return False
            self.session.input_after = seq
        return True


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
