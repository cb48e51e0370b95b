"""Serial console sessions through the API: open/join, output chunks checked in S3, input with one
writer, close (by request, idle, the agent detaching, the job ending), replay, and tenancy."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
from chalice.test import Client
from chalicelib import aws
from chalicelib.agents.models import Agent
from chalicelib.audit.models import AuditRecord
from chalicelib.consoles import logic
from chalicelib.consoles.models import Console
from chalicelib.jobs.models import Job

from .conftest import PASSWORD, VM, FakeHost, Operator


class Session:
    """One console from both ends: the operator's client and the fake host holding the job."""

    def __init__(self, client: Client, op: Operator, host: FakeHost) -> None:
        self.client, self.op, self.host = client, op, host
        opened = client.http.post(f"/api/agents/{host.agent_id}/vms/test/console", headers=op.headers, body="{}")
        assert opened.status_code == 201, opened.body
        self.opened = opened.json_body
        self.console_id = self.opened["console"]["console_id"]
        self.client_id = self.opened["client_id"]
        self.claim_token = ""
        self.attached: dict[str, Any] = {}

    def claim_and_attach(self) -> dict[str, Any]:
        jobs = self.client.http.post("/agent/v1/poll?wait=0", headers=self.host.headers, body="{}").json_body["jobs"]
        assert [job["job_id"] for job in jobs] == [self.opened["console"]["job_id"]]
        self.claim_token = jobs[0]["claim_token"]
        self.agent("lease", {"claim_token": self.claim_token, "running": True}, job=True)
        answer = self.agent("attach", {"claim_token": self.claim_token})
        assert answer.status_code == 200, answer.body
        self.attached = answer.json_body
        return self.attached

    def agent(self, call: str, body: dict[str, Any], *, job: bool = False, query: str = "") -> Any:
        path = (f"/agent/v1/jobs/{self.opened['console']['job_id']}/{call}" if job
                else f"/agent/v1/consoles/{self.console_id}/{call}{query}")
        return self.client.http.post(path, headers=self.host.headers, body=json.dumps(body))

    def put_chunk(self, seq: int, data: bytes) -> None:
        url = next(u["url"] for u in self.attached["uploads"] if u["seq"] == seq)
        assert requests.put(url, data=data, timeout=10).status_code == 200

    def emit(self, seq: int, data: bytes, **extra: Any) -> Any:
        self.put_chunk(seq, data)
        answer = self.agent("output", {"claim_token": self.claim_token, "chunks": [{"seq": seq, "size": len(data)}],
                                       **extra})
        if answer.status_code == 200:
            self.attached["uploads"] = answer.json_body["uploads"]
        return answer

    def output(self, after: int = 0, wait: int = 0, client_id: str | None = None, op: Operator | None = None) -> Any:
        query = f"after={after}&wait={wait}&client_id={client_id or self.client_id}"
        return self.client.http.get(f"/api/consoles/{self.console_id}/output?{query}",
                                    headers=(op or self.op).headers)

    def type(self, data: str, client_id: str | None = None) -> Any:
        return self.client.http.post(f"/api/consoles/{self.console_id}/input", headers=self.op.headers,
                                     body=json.dumps({"client_id": client_id or self.client_id, "data": data}))

    def take_input(self, after: int, wait: int = 0) -> Any:
        return self.agent("input", {"claim_token": self.claim_token, "after": after}, query=f"?wait={wait}")


def _rings(host: FakeHost) -> list[str]:
    """Every message waiting in the host's doorbell queue, removed."""
    url = Agent.get(host.agent_id).queue_url
    bodies: list[str] = []
    while messages := aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        for m in messages:
            aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def _transcript(answer: dict[str, Any]) -> bytes:
    return b"".join(requests.get(chunk["url"], timeout=10).content for chunk in answer["chunks"])


def test_output_chunks_are_numbered_checked_in_s3_and_readable_in_order(client: Client, make_operator: Any,
                                                                         enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    assert session.opened["writer"] is True and session.opened["console"]["status"] == "opening"
    job = Job.get(session.opened["console"]["job_id"])
    assert (job.op, job.args) == ("console.attach", {"vm_uuid": VM["uuid"], "console_id": session.console_id})

    attached = session.claim_and_attach()
    assert (attached["status"], attached["next_seq"], attached["input_after"]) == ("open", 1, 0)
    assert [u["seq"] for u in attached["uploads"]] == list(range(1, 9))
    assert session.emit(1, b"Debian GNU/Linux\r\n").status_code == 200
    assert session.emit(2, "login: é\r\n".encode()).status_code == 200

    answer = session.output().json_body
    assert ([c["seq"] for c in answer["chunks"]], answer["next"], answer["more"]) == ([1, 2], 2, False)
    assert _transcript(answer) == "Debian GNU/Linux\r\nlogin: é\r\n".encode()
    assert session.output(after=2).json_body["chunks"] == []
    console = client.http.get(f"/api/consoles/{session.console_id}", headers=op.headers).json_body
    assert (console["status"], console["last_seq"], console["bytes"]) == ("open", 2, 29)


def test_reports_that_do_not_match_what_landed_are_refused_and_change_nothing(client: Client, make_operator: Any,
                                                                             enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    token = session.claim_token

    def report(chunks: list[dict[str, Any]], claim_token: str = token) -> tuple[int, str]:
        answer = session.agent("output", {"claim_token": claim_token, "chunks": chunks})
        return answer.status_code, answer.json_body.get("error", {}).get("code", "")

    assert report([{"seq": 1, "size": 5}]) == (400, "upload_missing")  # nothing was PUT
    session.put_chunk(1, b"hello")
    assert report([{"seq": 1, "size": 4}]) == (400, "upload_missing")  # not the size that landed
    assert report([{"seq": 2, "size": 5}]) == (400, "invalid_request")  # a gap
    assert report([{"seq": 1, "size": 5}], claim_token="not-the-claim") == (409, "stale_claim")
    assert Console.get(session.console_id).last_seq == 0
    assert report([{"seq": 1, "size": 5}]) == (200, "")
    assert report([{"seq": 1, "size": 5}]) == (200, "")  # a resent report (lost answer) is harmless
    session.put_chunk(2, b"x" * (64 * 1024 + 1))
    assert report([{"seq": 2, "size": 64 * 1024 + 1}]) == (400, "upload_too_large")
    assert Console.get(session.console_id).last_seq == 1


def test_a_waiting_reader_gets_a_chunk_as_soon_as_it_is_reported(client: Client, make_operator: Any,
                                                                  enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    timer = threading.Timer(0.5, lambda: session.emit(1, b"late line\r\n"))
    started = time.monotonic()
    timer.start()
    answer = session.output(wait=10).json_body
    elapsed = time.monotonic() - started
    timer.join()
    assert [c["seq"] for c in answer["chunks"]] == [1]
    assert elapsed < 3, f"the long poll answered after {elapsed:.1f}s, not when the chunk arrived"


def test_input_reaches_the_agent_in_order_from_the_writer_only(client: Client, make_operator: Any,
                                                               enrol: Any) -> None:
    op: Operator = make_operator()
    host = enrol(op)
    session = Session(client, op, host)
    session.claim_and_attach()
    joined = client.http.post(f"/api/agents/{host.agent_id}/vms/{VM['uuid']}/console", headers=op.headers, body="{}")
    assert joined.status_code == 200 and joined.json_body["writer"] is False
    assert joined.json_body["console"]["console_id"] == session.console_id
    reader = joined.json_body["client_id"]

    assert session.type("ls -l\r").json_body == {"seq": 1}
    assert session.type("uptime\r").json_body == {"seq": 2}
    refused = session.type("rm -rf /\r", client_id=reader)
    assert (refused.status_code, refused.json_body["error"]["code"]) == (409, "console_read_only")

    taken = session.take_input(after=0).json_body
    assert taken["input"] == [{"seq": 1, "data": "ls -l\r"}, {"seq": 2, "data": "uptime\r"}]
    assert session.take_input(after=2).json_body["input"] == []
    assert Console.get(session.console_id).input == []  # taken input is not kept in the record

    takeover = client.http.post(f"/api/consoles/{session.console_id}/writer", headers=op.headers,
                                body=json.dumps({"client_id": reader}))
    assert takeover.json_body["writer"] is True
    assert session.type("whoami\r", client_id=reader).json_body == {"seq": 3}
    assert session.type("again\r").status_code == 409  # the first client reads now
    assert session.output().json_body["writer"] is False
    assert session.take_input(after=2).json_body["input"] == [{"seq": 3, "data": "whoami\r"}]
    actions = {r.action for r in AuditRecord.query(op.user_id)}
    assert {"console.open", "console.join", "console.take_writer"} <= actions


def test_input_the_agent_has_not_taken_is_bounded(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    for index in range(64):
        assert session.type(f"{index}\r").status_code == 202
    refused = session.type("one too many\r")
    assert (refused.status_code, refused.json_body["error"]["code"]) == (429, "console_input_backlog")
    assert refused.headers["Retry-After"] == "1"
    assert len(session.take_input(after=0).json_body["input"]) == 64
    session.take_input(after=64)
    assert session.type("room again\r").json_body == {"seq": 65}


def test_a_waiting_agent_gets_input_as_soon_as_it_is_typed(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    timer = threading.Timer(0.5, lambda: session.type("x"))
    started = time.monotonic()
    timer.start()
    answer = session.take_input(after=0, wait=10).json_body
    timer.join()
    assert answer["input"] == [{"seq": 1, "data": "x"}]
    assert time.monotonic() - started < 3


def test_close_tells_the_agent_which_detaches_and_the_transcript_stays(client: Client, make_operator: Any,
                                                                       enrol: Any) -> None:
    op: Operator = make_operator()
    host = enrol(op)
    session = Session(client, op, host)
    session.claim_and_attach()
    session.emit(1, b"boot\r\n")
    session.type("echo hi\r")
    closing = client.http.post(f"/api/consoles/{session.console_id}/close", headers=op.headers, body="{}")
    assert (closing.json_body["status"], closing.json_body["closed_reason"]) == ("closing", "requested")
    assert session.type("too late\r").json_body["error"]["code"] == "console_closed"

    heard = session.take_input(after=1, wait=10).json_body
    assert (heard["status"], heard["closed_reason"]) == ("closing", "requested")
    last = session.emit(2, b"bye\r\n", detached="requested")
    assert (last.json_body["status"], last.json_body["uploads"]) == ("closed", [])
    done = session.agent("complete", {"claim_token": session.claim_token, "exit_code": 0,
                                      "summary": "console closed: requested"}, job=True)
    assert done.json_body == {"status": "succeeded"}

    replay = session.output(after=0).json_body
    assert (replay["status"], replay["closed_reason"], replay["writer"]) == ("closed", "requested", False)
    assert _transcript(replay) == b"boot\r\nbye\r\n"
    history = client.http.get(f"/api/consoles?agent_id={host.agent_id}&vm_uuid={VM['uuid']}", headers=op.headers)
    assert [c["console_id"] for c in history.json_body["consoles"]] == [session.console_id]
    close_record = next(r for r in AuditRecord.query(op.user_id) if r.action == "console.close")
    assert close_record.detail["inputs"] == 1 and close_record.detail["bytes"] == 6


def test_a_long_poll_on_a_closed_session_answers_at_once(client: Client, make_operator: Any,
                                                        enrol: Any) -> None:
    # A tab that learnt "closing" polls again with a long wait; if the agent detached meanwhile, that
    # poll must not sit out its wait for a change that can no longer come.
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    session.emit(1, b"boot\r\n")
    client.http.post(f"/api/consoles/{session.console_id}/close", headers=op.headers, body="{}")
    session.emit(2, b"bye\r\n", detached="requested")
    started = time.monotonic()
    answer = session.output(after=2, wait=10).json_body
    elapsed = time.monotonic() - started
    assert (answer["status"], answer["chunks"], answer["more"]) == ("closed", [], False)
    assert elapsed < 3, f"a poll on a closed session waited {elapsed:.1f}s"


def test_closing_a_console_the_agent_never_claimed_cancels_its_job(client: Client, make_operator: Any,
                                                                   enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    closed = client.http.post(f"/api/consoles/{session.console_id}/close", headers=op.headers, body="{}")
    assert (closed.json_body["status"], closed.json_body["closed_reason"]) == ("closed", "requested")
    assert Job.get(session.opened["console"]["job_id"]).status == "cancelled"


def test_a_session_whose_job_ended_without_the_agent_saying_so_is_closed(client: Client, make_operator: Any,
                                                                         enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    session.agent("complete", {"claim_token": session.claim_token, "exit_code": 1, "summary": "boom"}, job=True)
    quiet_since = int(time.time()) - logic.AGENT_SILENCE - 1
    Console(session.console_id).update(actions=[Console.agent_seen.set(quiet_since)])  # it went quiet
    answer = session.output().json_body
    assert (answer["status"], answer["closed_reason"]) == ("closed", "error")


def test_an_unwatched_session_closes_as_idle(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    # Nobody has polled its output for longer than the idle timeout (600 s by default).
    Console(session.console_id).update(actions=[Console.viewed_at.set(int(time.time()) - 601)])
    heard = session.take_input(after=0).json_body
    assert (heard["status"], heard["closed_reason"]) == ("closing", "idle")


def test_another_attempt_takes_the_session_over_and_fences_the_old_one(client: Client, make_operator: Any,
                                                                       enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    session.emit(1, b"first life\r\n")
    old_token = session.claim_token
    job_id = session.opened["console"]["job_id"]
    Job(job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
    from chalicelib.jobs import lifecycle

    lifecycle.sweep()
    Job(job_id).update(actions=[Job.not_before.remove()])  # skip the retry's backoff
    again = session.claim_and_attach()
    assert again["next_seq"] == 2  # the transcript runs on
    stale = session.agent("output", {"claim_token": old_token, "chunks": []})
    assert (stale.status_code, stale.json_body["error"]["code"]) == (409, "stale_claim")


def test_consoles_are_the_owners_and_need_a_running_vm(client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    stranger: Operator = make_operator()
    host = enrol(owner, vms=[VM, {**VM, "uuid": "11111111-2222-3333-4444-555555555555", "name": "off",
                                  "state": "shutoff"}])
    session = Session(client, owner, host)
    for path in (f"/api/consoles/{session.console_id}", f"/api/consoles/{session.console_id}/output"):
        answer = client.http.get(path, headers=stranger.headers)
        assert (answer.status_code, answer.json_body["error"]["code"]) == (404, "console_not_found")
    for call in ("input", "writer", "close"):
        answer = client.http.post(f"/api/consoles/{session.console_id}/{call}", headers=stranger.headers,
                                  body=json.dumps({"client_id": "x", "data": "y"}))
        assert answer.status_code == 404
    assert client.http.post(f"/api/agents/{host.agent_id}/vms/test/console", headers=stranger.headers,
                            body="{}").status_code == 404
    off = client.http.post(f"/api/agents/{host.agent_id}/vms/off/console", headers=owner.headers, body="{}")
    assert (off.status_code, off.json_body["error"]["code"]) == (409, "vm_not_running")
    assert Console.get(session.console_id).status == "opening"  # nothing the stranger did reached it
    other_host = enrol(stranger)
    foreign = client.http.post(f"/agent/v1/consoles/{session.console_id}/attach", headers=other_host.headers,
                               body=json.dumps({"claim_token": "x"}))
    assert (foreign.status_code, foreign.json_body["error"]["code"]) == (404, "console_not_found")


def _report(client: Client, host: FakeHost, capabilities: dict[str, Any]) -> None:
    beat = client.http.post("/agent/v1/heartbeat", headers=host.headers,
                            body=json.dumps({"capabilities": capabilities, "vms": [VM], "running_jobs": []}))
    assert beat.status_code == 200, beat.body


@pytest.mark.parametrize(("capabilities", "offered"), [
    ({"hypervisor": "TEST", "serial_console": False}, False),
    ({"hypervisor": "QEMU", "serial_console": True}, True),
    ({"hypervisor": "TEST"}, False),  # an agent from before `serial_console`: the test driver has none
    ({"hypervisor": "QEMU"}, True),  # ... any other driver is given the benefit of the doubt
    ({}, True),
])
def test_a_console_is_offered_only_where_the_host_says_it_works(client: Client, make_operator: Any, enrol: Any,
                                                               capabilities: dict[str, Any], offered: bool) -> None:
    owner: Operator = make_operator()
    host = enrol(owner)
    _report(client, host, capabilities)

    listed = client.http.get(f"/api/agents/{host.agent_id}", headers=owner.headers).json_body
    answer = client.http.post(f"/api/agents/{host.agent_id}/vms/test/console", headers=owner.headers, body="{}")

    if offered:
        assert listed["console_unavailable"] is None
        assert answer.status_code == 201, answer.body
        return
    why = "This host's hypervisor (TEST) cannot open a serial console."
    assert listed["console_unavailable"] == why
    assert (answer.status_code, answer.json_body["error"]) == (409, {"code": "console_unavailable", "message": why})
    assert list(Console.scan()) == [] or all(c.agent_id != host.agent_id for c in Console.scan())
    assert Job.count() == 0 or all(j.agent_id != host.agent_id for j in Job.scan())


def test_bad_input_is_a_clear_400(client: Client, make_operator: Any, enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    for body in ({"client_id": session.client_id}, {"client_id": session.client_id, "data": 5},
                 {"client_id": session.client_id, "data": ""}, {"client_id": session.client_id, "data": "x" * 4097},
                 {"data": "x"}):
        answer = client.http.post(f"/api/consoles/{session.console_id}/input", headers=op.headers,
                                  body=json.dumps(body))
        assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request"), body
    for query in ("after=x", "wait=soon"):
        answer = client.http.get(f"/api/consoles/{session.console_id}/output?{query}", headers=op.headers)
        assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request"), query
    assert Console.get(session.console_id).input_count == 0


@pytest.fixture
def attached(client: Client, make_operator: Any, enrol: Any) -> tuple[Operator, FakeHost, Session]:
    """A console whose job the host has claimed and attached, with the host's queue drained of the job's ring."""
    op: Operator = make_operator()
    host = enrol(op)
    session = Session(client, op, host)
    session.claim_and_attach()
    _rings(host)
    return op, host, session


def test_typing_rings_the_host_once_until_the_agent_fetches(attached: Any) -> None:
    _, host, session = attached
    ring = f"console:{session.console_id}"

    session.type("l")
    session.type("s")
    assert _rings(host) == [ring]  # one ring for what waits, however much is typed before the agent fetches
    assert session.take_input(after=0).json_body["input"] == [{"seq": 1, "data": "l"}, {"seq": 2, "data": "s"}]
    assert _rings(host) == []
    session.type("\r")
    assert _rings(host) == [ring]  # the agent fetched: the next input wakes it again
    assert session.take_input(after=2).json_body["input"] == [{"seq": 3, "data": "\r"}]
    assert Console.get(session.console_id).input == ["\r"]  # kept until a fetch past it says it was taken


def test_a_fetch_after_a_lost_ring_still_brings_the_input_and_output_answers_say_it_waits(attached: Any) -> None:
    _, host, session = attached
    assert session.emit(1, b"$ ").json_body["input_waiting"] is False
    session.type("date\r")
    _rings(host)  # the ring is lost: read by nobody
    assert session.emit(2, b"\r\n").json_body["input_waiting"] is True  # a printing console says so anyway
    assert session.take_input(after=0).json_body["input"] == [{"seq": 1, "data": "date\r"}]
    assert session.emit(3, b"$ ").json_body["input_waiting"] is False


def test_input_typed_while_the_agent_fetches_is_neither_lost_nor_unrung(attached: Any) -> None:
    # The fetch's write trims what the agent took and resets the ring count; a keystroke that lands between
    # the fetch's read and its write must stay in the list, and (arriving before the reset) be in its answer.
    _, host, session = attached
    session.type("a")
    session.take_input(after=0)
    _rings(host)
    original = Console.update
    landed: list[int] = []

    def typed_meanwhile(console: Console, *args: Any, **kwargs: Any) -> Any:
        fetch = str(Console.unfetched.set(0)) in [str(action) for action in kwargs.get("actions") or []]
        if fetch and not landed:
            landed.append(0)  # before typing: the input's own write passes through here too
            landed[0] = session.type("b").status_code
        return original(console, *args, **kwargs)

    Console.update = typed_meanwhile  # type: ignore[method-assign]
    try:
        answer = session.take_input(after=1).json_body
    finally:
        Console.update = original  # type: ignore[method-assign]
    assert landed == [202]
    assert answer["input"] == [{"seq": 2, "data": "b"}]
    record = Console.get(session.console_id)
    assert (record.input, int(record.input_base), int(record.unfetched)) == (["b"], 1, 0)


def test_closing_rings_the_agent_so_it_lets_go_at_once(attached: Any) -> None:
    op, host, session = attached
    closing = session.client.http.post(f"/api/consoles/{session.console_id}/close", headers=op.headers, body="{}")
    assert closing.json_body["status"] == "closing"
    assert _rings(host) == [f"console:{session.console_id}"]
    heard = session.take_input(after=0).json_body  # what the rung agent fetches, without waiting
    assert (heard["status"], heard["closed_reason"]) == ("closing", "requested")


def test_a_quiet_agent_whose_job_still_holds_its_lease_keeps_the_session_open(attached: Any) -> None:
    # An agent on its queue may not call about the session for minutes: its job's lease speaks for it.
    _, _, session = attached
    quiet_since = int(time.time()) - logic.AGENT_SILENCE - 1
    Console(session.console_id).update(actions=[Console.agent_seen.set(quiet_since)])
    answer = session.output().json_body
    assert (answer["status"], answer["closed_reason"]) == ("open", None)


def test_reading_never_changes_who_writes_and_a_client_id_is_its_holders_alone(client: Client, make_operator: Any,
                                                                              enrol: Any) -> None:
    op: Operator = make_operator()
    session = Session(client, op, enrol(op))
    session.claim_and_attach()
    made = client.http.post("/api/api-keys", headers=op.headers, body=json.dumps({"name": "wall", "scopes": ["read"]}))
    wall = Operator(op.user_id, op.email, made.json_body["secret"])
    Console.get(session.console_id).update(actions=[Console.writer_seen.set(int(time.time()) - 60)])  # tab quiet

    for client_id in (session.client_id, "anything-at-all"):  # the writer's own id, and a made-up one
        answer = session.output(client_id=client_id, op=wall)
        assert (answer.status_code, answer.json_body["writer"]) == (200, False)
    assert Console.get(session.console_id).writer_id == session.client_id
    assert session.type("still mine\r").status_code == 202

    # The same operator logged in elsewhere is another holder: the first tab's id means nothing there.
    login = client.http.post("/api/auth/login", headers={"Content-Type": "application/json"},
                             body=json.dumps({"email": op.email, "password": PASSWORD}))
    elsewhere = Operator(op.user_id, op.email, login.json_body["access_token"])
    for path, body in (("writer", {"client_id": session.client_id}),
                       ("input", {"client_id": session.client_id, "data": "x"})):
        refused = client.http.post(f"/api/consoles/{session.console_id}/{path}", headers=elsewhere.headers,
                                   body=json.dumps(body))
        assert (refused.status_code, refused.json_body["error"]["code"]) == (403, "console_client_unknown"), path
    assert Console.get(session.console_id).writer_id == session.client_id
