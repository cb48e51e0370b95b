"""Serial console sessions: what operators open, read, type into and close, and what the agent reports.

The session record is the meeting point; neither side talks to the other
directly. The agent's `console.attach` job uploads output chunks to S3 and
reports their numbers here; operators' long polls read the record and get
presigned GETs for the chunks past their cursor. Keystrokes are appended to
the record's input list, and the agent fetches them.

How the agent hears of input, without a Lambda held for it (issue 15): an
agent that waits on its own SQS queue fetches with `wait=0` when its doorbell
rings `console:<console_id>`; an agent that waits in the API (no doorbell, its
queue unusable for a while, or an agent older than the ring) long-polls the
input as before (`wait` up to 20 s). The agent chooses by the `wait` it asks
for; the server does the same either way, so there is no mode to keep in step.
Rings are coalesced: `unfetched` counts the inputs appended since the agent's
last fetch, and only the append that moves it from 0 rings. The fetch sets it
back to 0 in the same conditional write that returns the input list, so every
input is either in what a fetch returns or appended after that fetch, and
then it rings: one ring per burst of typing the agent has not fetched yet,
however fast the operator types. A ring that is lost (SendMessage failed, or
an API long poll read and dropped it while the agent was between modes)
costs at most the agent's safety fetch (every minute), less when the console
prints: `output` answers say `input_waiting` while `unfetched` is not 0.

The agent's sign of life is its job's lease (renewed every 40 s, lapsing
after 120 s, when the sweeper retries or ends the job), not its input calls:
an agent on its queue may not call about the session for a minute. `settle`
reads the job once the session has not heard from the agent for
AGENT_SILENCE, and closes the session when the job has ended.

Long polls re-read the record every POLL_INTERVAL seconds (one strongly
consistent GetItem each) rather than waiting on a queue: the record is tiny,
the wait is bounded, and the latency an operator feels while typing is this
interval plus two HTTP hops.

Decisions worth knowing:
- A host whose hypervisor has no serial consoles (its capabilities say
  `serial_console: false`, or an older agent on libvirt's test driver) is
  refused before any job is made (`409 console_unavailable`, the reason from
  agents/capabilities.console_unavailable, which the host list shows too).
- One session per VM at a time: opening a VM's console while one is open
  joins it. libvirt refuses a second stream on one serial port anyway, and
  two operators sharing one transcript is what a team expects.
- One writer: the client that opened the session types; others read. A
  writer that has not polled for WRITER_SILENCE seconds (a closed tab) gives
  way to the next client that opens; `take_writer` takes it at once. Reading
  never changes who writes, and a client id counts only for the session or
  API key it was issued to (`clients`): a read-only key that names another
  tab's id, or any id, reads and nothing more.
- A session ends when the agent says why (`detach`), or, if the agent never
  says (it died and its job ran out of attempts), when a reader notices that
  the job has ended (`settle`): the record is never the only one that knows.
- Each keystroke is not audited; opening, taking over and closing are, and
  the close record carries the session's input count and bytes.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from pynamodb.expressions.condition import size

from .. import aws, store
from ..agents.capabilities import console_unavailable
from ..agents.models import Agent
from ..auth.logic import Principal
from ..errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from ..jobs import doorbell, lifecycle
from ..jobs import logic as jobs
from ..jobs.models import FINAL_STATES, LIVE_STATES, Job
from ..settings import settings
from ..vms.models import Vm
from .models import LIVE, RETENTION_SECONDS, Console

OP = "console.attach"
POLL_INTERVAL = 0.15
WRITER_SILENCE = 30  # seconds without a poll before the writer's role is free
SEEN_EVERY = 10  # refresh writer_seen / viewed_at at most this often (seconds)
# An agent on its queue fetches at least every minute (its safety fetch), one in the API every <= 20 s;
# after longer silence `settle` looks at the job, whose lease is the real sign of life.
AGENT_SILENCE = 150
JOB_CHECK_EVERY = 5.0
MAX_CHUNKS_PER_ANSWER = 100
UPLOAD_WINDOW = 8  # presigned chunk PUTs handed out ahead
URL_SECONDS = 900
MAX_INPUT_CHARS = 4096
MAX_PENDING_INPUT = 64
RUNNING_STATES = frozenset({"running", "paused", "blocked", "pmsuspended", "shutdown"})
AGENT_REASONS = frozenset({"requested", "idle", "vm_stopped", "console_busy", "error"})
# How a session whose agent never said why ends, by its job's final state.
REASON_BY_JOB = {"cancelled": "requested", "expired": "agent_lost", "timed_out": "agent_lost",
                 "failed": "error", "succeeded": "error"}


# -- operators -------------------------------------------------------------------------------------

def open_session(agent: Agent, vm: Vm, holder: str) -> tuple[Console, str, bool, bool]:
    """(session, client_id, is_writer, created): the VM's open session joined, else a new one. `holder` names
    the caller's session or API key (`holder_of`): the client id is theirs alone."""
    client_id = secrets.token_urlsafe(16)
    existing = _open_session_of(agent.agent_id, vm.vm_uuid)
    if existing is not None:
        existing.update(actions=[Console.clients.set(Console.clients.append([f"{client_id} {holder}"]))])
        return existing, client_id, _try_take_writer(existing, client_id, force=False), False
    unavailable = console_unavailable(agent.capabilities or {})
    if unavailable is not None:
        raise Conflict(unavailable, "console_unavailable")
    if vm.state not in RUNNING_STATES:
        raise Conflict(f"VM {vm.name!r} is {vm.state}: a serial console needs it running.", "vm_not_running")
    now_ms = int(time.time() * 1000)
    console_id = secrets.token_hex(16)
    job, _ = jobs.create(agent, OP, {"vm_uuid": vm.vm_uuid, "console_id": console_id}, vm_uuid=vm.vm_uuid)
    console = Console(console_id, owner_id=agent.owner_id, agent_id=agent.agent_id, vm_uuid=vm.vm_uuid,
                      vm_name=vm.name, vm_key=_vm_key(agent.agent_id, vm.vm_uuid), job_id=job.job_id,
                      status="opening", created_ms=now_ms, writer_id=client_id, writer_seen=now_ms // 1000,
                      clients=[f"{client_id} {holder}"],
                      viewed_at=now_ms // 1000, ttl=now_ms // 1000 + RETENTION_SECONDS)
    console.save(condition=Console.console_id.does_not_exist())
    return console, client_id, True, True


def holder_of(who: Principal) -> str:
    """Whom a console client id is issued to: the caller's session, or the API key it calls with."""
    return f"session:{who.session_id}" if who.session_id else f"key:{who.key_id}"


def issued(console: Console, client_id: str | None, holder: str) -> str | None:
    """`client_id` if it was handed to `holder` for this session, else None (it then counts for nothing)."""
    return client_id if client_id is not None and f"{client_id} {holder}" in (console.clients or []) else None


def _issued_or_refuse(console: Console, client_id: str, holder: str) -> str:
    if issued(console, client_id, holder) is None:
        raise Forbidden("This client id was not issued to you for this console; open the console again.",
                        "console_client_unknown")
    return client_id


def owned(owner_id: str, console_id: str) -> Console:
    console = store.get_or_none(Console, console_id[:64], consistent_read=True)
    if console is None or console.owner_id != owner_id:
        raise NotFound("No such console session.", "console_not_found")
    return console


def page(owner_id: str, *, agent_id: str | None, vm_uuid: str | None, limit: int,
         start: dict[str, Any] | None) -> tuple[list[Console], dict[str, Any] | None]:
    """Newest first: a VM's sessions (agent_id and vm_uuid), a host's, or all of the owner's."""
    if agent_id and vm_uuid:
        result = Console.by_vm.query(_vm_key(agent_id, vm_uuid), filter_condition=Console.owner_id == owner_id,
                                     scan_index_forward=False, limit=limit, last_evaluated_key=start)
    else:
        condition = Console.agent_id == agent_id if agent_id else None
        result = Console.by_owner.query(owner_id, filter_condition=condition, scan_index_forward=False,
                                        limit=limit, last_evaluated_key=start)
    consoles = [settle(console) for console in result]
    return consoles, result.last_evaluated_key


def output(console: Console, *, after: int, wait: int, client_id: str | None, holder: str) -> dict[str, Any]:
    """The chunks past `after`, waiting up to `wait` seconds for one (or for the status to change).

    A closed session answers at once: nothing more can come, and a reader that saw "closing" polls
    again with a long wait, which would otherwise sit out that wait after the agent detached.
    """
    console = settle(console)
    client_id = issued(console, client_id, holder)
    writer = _note_viewer(console, client_id)
    deadline = time.monotonic() + wait
    next_job_check = time.monotonic() + JOB_CHECK_EVERY
    status = console.status
    while (status != "closed" and console.status == status and console.last_seq <= after
           and time.monotonic() < deadline):
        time.sleep(POLL_INTERVAL)
        console.refresh(consistent_read=True)
        if time.monotonic() >= next_job_check:
            console, next_job_check = settle(console), time.monotonic() + JOB_CHECK_EVERY
    last = min(int(console.last_seq), after + MAX_CHUNKS_PER_ANSWER)
    chunks = [{"seq": seq, "url": _presign("get_object", chunk_key(console.console_id, seq))}
              for seq in range(after + 1, last + 1)]
    return {"chunks": chunks, "next": max(after, last), "more": last < console.last_seq,
            "status": console.status, "closed_reason": console.closed_reason,
            "writer": writer or (client_id is not None and console.writer_id == client_id)}


def send_input(console: Console, client_id: str, data: str, holder: str) -> int:
    """Queue keystrokes for the agent; the sequence number they got."""
    if not 1 <= len(data) <= MAX_INPUT_CHARS:
        raise Invalid(f"'data' must be 1 to {MAX_INPUT_CHARS} characters.")
    _issued_or_refuse(console, client_id, holder)
    with store.race() as sending:
        console.update(actions=[Console.input.set(Console.input.append([data])), Console.input_count.add(1),
                                Console.input_bytes.add(len(data.encode())), Console.unfetched.add(1)],
                       condition=Console.status.is_in("opening", "open") & (Console.writer_id == client_id)
                       & (size(Console.input) < MAX_PENDING_INPUT))
    if sending.lost:
        _refuse_input(console, client_id)
    if int(console.unfetched) == 1:  # the first input since the agent's last fetch: wake it
        _ring(console)
    return int(console.input_base) + len(console.input)


def _refuse_input(console: Console, client_id: str) -> NoReturn:
    """Which of send_input's conditions failed, re-read from the record."""
    console.refresh(consistent_read=True)
    if console.status not in ("opening", "open"):
        raise Conflict("This console session is closed.", "console_closed")
    if console.writer_id != client_id:
        raise Conflict("Another client is typing in this console; take over to type.", "console_read_only")
    raise TooManyRequests("The VM has not taken the input sent so far; wait a moment.", retry_after=1,
                          code="console_input_backlog")


def take_writer(console: Console, client_id: str, holder: str) -> bool:
    if console.status not in LIVE:
        raise Conflict("This console session is closed.", "console_closed")
    _issued_or_refuse(console, client_id, holder)
    return _try_take_writer(console, client_id, force=True)


def close(console: Console) -> Console:
    """End a session at the operator's request. A job not yet claimed is simply cancelled."""
    console = settle(console)
    if console.status not in ("opening", "open"):
        return console
    job = _job(console)
    if job is not None and job.status == "queued":
        job = lifecycle.cancel(job)
        if job.status in FINAL_STATES:
            return _finish(console, "requested")
    _update_or_reread(console, [Console.status.set("closing"), Console.closed_reason.set("requested")],
                      Console.status.is_in("opening", "open"))
    if console.status == "closing":
        _ring(console)  # an agent on its queue hears "closing" from its next fetch: make that now
    return console


def settle(console: Console) -> Console:
    """Close a live session whose job has ended without the agent saying so (it died, or never came)."""
    if console.status not in LIVE or (console.agent_seen and time.time() - console.agent_seen < AGENT_SILENCE):
        return console
    job = _job(console)
    if job is None or job.status in FINAL_STATES:
        reason = console.closed_reason or REASON_BY_JOB.get(job.status if job else "", "agent_lost")
        return _finish(console, reason)
    return console


def view(console: Console) -> dict[str, Any]:
    return {"console_id": console.console_id, "agent_id": console.agent_id, "vm_uuid": console.vm_uuid,
            "vm_name": console.vm_name, "job_id": console.job_id, "status": console.status,
            "closed_reason": console.closed_reason, "created_ms": int(console.created_ms),
            "closed_ms": None if console.closed_ms is None else int(console.closed_ms),
            "last_seq": int(console.last_seq), "bytes": int(console.bytes)}


def close_detail(console: Console) -> dict[str, Any]:
    """What the audit record of a close keeps: the session's size, not its keystrokes."""
    return {"console_id": console.console_id, "status": console.status, "chunks": int(console.last_seq),
            "bytes": int(console.bytes), "inputs": int(console.input_count),
            "input_bytes": int(console.input_bytes)}


# -- the agent -------------------------------------------------------------------------------------

def attach(agent: Agent, console_id: str, claim_token: str) -> dict[str, Any]:
    """The attempt holding the session's job takes the session over: its token fences older attempts."""
    console = _agents_console(agent, console_id)
    job = _job(console)
    if job is None or job.claim_token != claim_token or job.status not in LIVE_STATES:
        raise Conflict("This claim no longer holds the console's job.", "stale_claim")
    now = int(time.time())
    actions: list[Any] = [Console.claim_token.set(claim_token), Console.agent_seen.set(now)]
    if console.status == "opening":
        actions.append(Console.status.set("open"))
    _update_or_reread(console, actions, Console.status.is_in(*LIVE))
    return {"next_seq": int(console.last_seq) + 1, "input_after": int(console.input_base) + len(console.input),
            "uploads": _upload_window(console), "max_chunk_bytes": settings().console_chunk_max_bytes,
            "status": console.status, "closed_reason": console.closed_reason}


def report_output(agent: Agent, console_id: str, claim_token: str, chunks: list[Any],
                  detached: str | None) -> dict[str, Any]:
    """Record uploaded chunks (checked in S3, in order, no gaps); `detached` ends the session."""
    console = _held_console(agent, console_id, claim_token)
    first = int(console.last_seq) + 1
    seqs = _new_seqs(chunks, first)
    total = sum(_checked_size(console.console_id, seq, size) for seq, size in seqs)
    actions: list[Any] = [Console.agent_seen.set(int(time.time()))]
    if seqs:
        actions += [Console.last_seq.set(seqs[-1][0]), Console.bytes.add(total)]
    if detached is not None:
        actions += _final_actions(console.closed_reason or detached)
    with store.race() as report:
        console.update(actions=actions, condition=(Console.claim_token == claim_token)
                       & (Console.last_seq == first - 1))
    if report.lost:
        raise Conflict("This claim no longer holds the console, or another report won.", "stale_claim") \
            from report.error
    return {"uploads": _upload_window(console), "status": console.status, "closed_reason": console.closed_reason,
            "input_waiting": int(console.unfetched) > 0}


def take_input(agent: Agent, console_id: str, claim_token: str, *, after: int, wait: int) -> dict[str, Any]:
    """Operator input past `after`, waiting up to `wait` seconds for some or for the session to close.

    `wait=0` is the fetch of an agent that waits on its queue (rung `console:<id>`); a longer wait is the
    long poll of one that waits in the API. Either resets `unfetched`, so the next input rings."""
    console = _held_console(agent, console_id, claim_token)
    _forget_taken(console, after)
    deadline = time.monotonic() + wait
    while True:
        pending = _input_after(console, after)
        if pending or console.status not in ("opening", "open") or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
        console.refresh(consistent_read=True)
    if console.claim_token != claim_token:
        raise Conflict("This claim no longer holds the console.", "stale_claim")
    return {"input": pending, "status": console.status, "closed_reason": console.closed_reason}


def chunk_key(console_id: str, seq: int) -> str:
    """Built by the server from ids only; never taken from the agent."""
    return f"consoles/{console_id}/{seq:010d}"


# -- helpers ---------------------------------------------------------------------------------------

def _vm_key(agent_id: str, vm_uuid: str) -> str:
    return f"{agent_id}/{vm_uuid}"


def _open_session_of(agent_id: str, vm_uuid: str) -> Console | None:
    for listed in Console.by_vm.query(_vm_key(agent_id, vm_uuid), scan_index_forward=False, limit=5):
        if listed.status in ("opening", "open"):
            # The index is eventually consistent: decide on the record itself.
            console = settle(Console.get(listed.console_id, consistent_read=True))
            if console.status in ("opening", "open"):
                return console
    return None


def _try_take_writer(console: Console, client_id: str, *, force: bool) -> bool:
    now = int(time.time())
    condition = Console.status.is_in(*LIVE)
    if not force:
        condition &= Console.writer_id.does_not_exist() | (Console.writer_seen < now - WRITER_SILENCE)
    with store.race() as taking:
        console.update(actions=[Console.writer_id.set(client_id), Console.writer_seen.set(now)],
                       condition=condition)
    return not taking.lost


def _note_viewer(console: Console, client_id: str | None) -> bool:
    """Keep the idle clock (and the writer's role) alive for a polling client; True if it is the writer.
    Never takes the role: a reader that polls stays a reader."""
    now = int(time.time())
    if console.status not in LIVE or client_id is None:
        return False
    is_writer = console.writer_id == client_id
    stale_view = now - console.viewed_at >= SEEN_EVERY
    if not stale_view and not (is_writer and now - console.writer_seen >= SEEN_EVERY):
        return is_writer
    actions: list[Any] = [Console.viewed_at.set(now)]
    condition = Console.status.is_in(*LIVE)
    if is_writer:
        actions.append(Console.writer_seen.set(now))
        condition &= Console.writer_id == client_id
    _update_or_reread(console, actions, condition)
    return console.writer_id == client_id


def _job(console: Console) -> Job | None:
    return store.get_or_none(Job, console.job_id, consistent_read=True)


def _update_or_reread(console: Console, actions: list[Any], condition: Any) -> None:
    """Apply a conditional update; when its condition no longer holds (a concurrent change), re-read
    the record instead, so that the caller answers from what is stored now."""
    with store.race() as update:
        console.update(actions=actions, condition=condition)
    if update.lost:
        console.refresh(consistent_read=True)


def _final_actions(reason: str) -> list[Any]:
    return [Console.status.set("closed"), Console.closed_reason.set(reason),
            Console.closed_ms.set(int(time.time() * 1000)), Console.input.set([]),
            Console.writer_id.remove()]


def _finish(console: Console, reason: str) -> Console:
    _update_or_reread(console, _final_actions(reason), Console.status.is_in(*LIVE))
    return console


def _agents_console(agent: Agent, console_id: str) -> Console:
    console = store.get_or_none(Console, console_id[:64], consistent_read=True)
    if console is None or console.agent_id != agent.agent_id:
        raise NotFound("No such console session.", "console_not_found")
    return console


def _held_console(agent: Agent, console_id: str, claim_token: str) -> Console:
    console = _agents_console(agent, console_id)
    if console.claim_token != claim_token:
        raise Conflict("This claim no longer holds the console.", "stale_claim")
    return console


def _new_seqs(chunks: list[Any], first: int) -> list[tuple[int, int]]:
    """(seq, size) of the chunks not yet recorded, in order; a resent old chunk is ignored, a gap refused."""
    seqs: list[tuple[int, int]] = []
    for chunk in chunks:
        seq, length = (chunk.get("seq"), chunk.get("size")) if isinstance(chunk, dict) else (None, None)
        if not isinstance(seq, int) or not isinstance(length, int) or isinstance(seq, bool) \
                or isinstance(length, bool) or length < 1:
            raise Invalid("Each chunk must be {\"seq\": int, \"size\": int >= 1}.")
        if seq < first:
            continue
        if seq != first + len(seqs):
            raise Invalid(f"Chunks must follow on from {first} without gaps.")
        seqs.append((seq, length))
    return seqs


def _checked_size(console_id: str, seq: int, size: int) -> int:
    """moto enforces nothing on presigned PUTs, so the control plane checks what landed."""
    try:
        head = aws.s3().head_object(Bucket=settings().bucket, Key=chunk_key(console_id, seq))
    except ClientError as exc:
        raise Invalid(f"Chunk {seq} was not uploaded.", "upload_missing") from exc
    if head["ContentLength"] > settings().console_chunk_max_bytes:
        raise Invalid(f"Chunk {seq} is larger than allowed.", "upload_too_large")
    if head["ContentLength"] != size:
        raise Invalid(f"Chunk {seq} holds {head['ContentLength']} bytes, not {size}.", "upload_missing")
    return int(head["ContentLength"])


def _upload_window(console: Console) -> list[dict[str, Any]]:
    if console.status == "closed":
        return []
    expires_at = int(time.time()) + URL_SECONDS
    first = int(console.last_seq) + 1
    return [{"seq": seq, "url": _presign("put_object", chunk_key(console.console_id, seq)),
             "expires_at": expires_at} for seq in range(first, first + UPLOAD_WINDOW)]


def _presign(method: str, key: str) -> str:
    return str(aws.s3_presigner().generate_presigned_url(method, Params={"Bucket": settings().bucket, "Key": key},
                                                         ExpiresIn=URL_SECONDS))


def _forget_taken(console: Console, after: int) -> None:
    """Drop the input the agent has confirmed taking, note that the agent is alive and has fetched (the next
    input rings), and close an idle session. One write, whose answer (ALL_NEW) is the record the fetch
    serves: an input appended before it is in that list, one appended after it finds `unfetched` 0 and
    rings. The taken entries are removed by index, so an input appended meanwhile stays."""
    now = int(time.time())
    actions: list[Any] = [Console.agent_seen.set(now), Console.unfetched.set(0)]
    condition = Console.claim_token == console.claim_token
    taken = min(after - int(console.input_base), len(console.input))
    if taken > 0:
        # Highest index first: DynamoDB removes by the indices the list had before the write, dynalite one
        # after the other; in this order both remove the same entries.
        actions += [Console.input[index].remove() for index in reversed(range(taken))]
        actions.append(Console.input_base.add(taken))
        condition &= Console.input_base == console.input_base  # no other fetch trimmed meanwhile
    if console.status in ("opening", "open") and now - console.viewed_at > settings().console_idle_seconds:
        actions += [Console.status.set("closing"), Console.closed_reason.set("idle")]
    _update_or_reread(console, actions, condition)


def _ring(console: Console) -> None:
    """Ring the console's host: `console:<id>` wakes an agent waiting on its queue (one waiting in the API
    drops it, and long-polls the input instead). Never fails: the input is stored already."""
    agent = store.get_or_none(Agent, console.agent_id)
    if agent is not None and agent.queue_url:
        doorbell.ring(agent.queue_url, doorbell.CONSOLE_PREFIX + console.console_id)


def _input_after(console: Console, after: int) -> list[dict[str, Any]]:
    base = int(console.input_base)
    start = max(0, after - base)
    return [{"seq": base + index + 1, "data": data} for index, data in enumerate(console.input) if index >= start]

