"""A small real HTTP server that speaks the agent half of docs/protocol.md, for the agent's tests.

It runs on http.server in a thread, keeps its own clock (which may be set
minutes away from ours), checks agent JWTs the way the control plane does
(signature, typ, aud, lifetime, iat/exp within 60 s of its clock), signs jobs
with the test-vector key (and announces its signing keys signed by each of
them, the way the control plane does), and records every call so tests can assert on what
the agent sent. Switches make it answer the way the real one does in rarer
moments: enrolment waiting for approval (202, then 403 host_pending_approval),
a deregistered host (401 agent_revoked), a cancelled job, an expired upload URL
(403 from the upload target).
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.state import b64url_encode, public_key_from_b64

from .conftest import announce, sign_envelope

AGENT_ID = "ag_5b1f0e6c2d7a4f3e9c8b1a2d3e4f5a6b"  # the vectors' agent id, so vector envelopes fit
KID = "test-vector-1"
LEEWAY = 60

MAX_HOLD_SECONDS = 0.2  # how long a poll is held at most: a short hold keeps the tests fast


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (the test process's monotonic clock)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeControlPlane:
    signing_key: Ed25519PrivateKey
    # The announced keyring: kid → key (the signing key under KID unless a test rotates), and its serial.
    # `announcement` replaces what heartbeats carry (a forged one, say); None announces the keyring.
    keyring: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    keys_serial: int = 1
    announcement: dict[str, Any] | None = None
    clock_offset: float = 0.0
    check_tokens: bool = True
    revoked: bool = False
    stale: bool = False
    lease_cancel: bool = False
    pending_registrations: int = 0  # this many register calls answer 202 pending_approval before one is approved
    pending_approval: bool = False  # authenticated calls answer 403 host_pending_approval
    lease_seconds: int = 120  # how long each lease answer says the lease lasts
    upload_refusals: int = 0  # this many PUTs answer 403, as S3 does for an expired presigned URL
    fail_next: list[int] = field(default_factory=list)
    omit_server_time: bool = False
    heartbeat_cancel: list[str] = field(default_factory=list)
    poll_cancel: list[str] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    console_status: str = "open"  # what console attach/output/input answer, until the agent detaches
    agent_public_key: str | None = None
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def calls_to(self, suffix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path.endswith(suffix)]

    def queue_job(self, op: str, vm_uuid: str | None, *, job_id: str, attempt: int = 1, kid: str = KID,
                  key: Ed25519PrivateKey | None = None, envelope: dict[str, Any] | None = None,
                  args: dict[str, Any] | None = None, upload_expires_in: int = 900) -> dict[str, Any]:
        """Queue a claimed job (signed like the control plane would, unless an envelope is given).

        `args` are the job's arguments besides `vm_uuid` (None: a job without one, vm.deploy); the upload URL
        expires `upload_expires_in` seconds from now (server time).
        """
        now = int(self.now())
        payload = {"v": 1, "job_id": job_id, "agent_id": AGENT_ID, "op": op,
                   "args": {**({} if vm_uuid is None else {"vm_uuid": vm_uuid}), **(args or {})},
                   "issued_at": now, "expires_at": now + 120, "attempt": attempt, "kid": kid}
        claimed = {"envelope": envelope or sign_envelope(payload, key or self.signing_key, kid),
                   "claim_token": f"ct-{job_id}-{attempt}", "lease_expires_at": now + 120,
                   "uploads": self._uploads(job_id, attempt, expires_at=now + upload_expires_in)}
        with self.lock:
            self.queued.append(claimed)
        return claimed

    def _uploads(self, job_id: str, attempt: int, *, expires_at: int, fresh: int = 0) -> dict[str, Any]:
        query = f"?fresh={fresh}" if fresh else ""
        return {"result": {"url": f"{self.url}/upload/{job_id}/{attempt}{query}", "key": "k",
                           "max_bytes": 1048576, "expires_at": expires_at}}

    def __post_init__(self) -> None:
        self.keyring = self.keyring or {KID: self.signing_key}

    def signing_keys(self) -> list[dict[str, str]]:
        return [{"kid": kid, "public_key": b64url_encode(key.public_key().public_bytes_raw())}
                for kid, key in sorted(self.keyring.items())]

    def key_announcement(self) -> dict[str, Any]:
        if self.announcement is not None:
            return self.announcement
        return announce(self.keys_serial, self.signing_keys(), self.keyring)

    # -- request handling ------------------------------------------------------------------------

    def handle(self, call: Call) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            self.calls.append(call)
            if self.fail_next:
                return self.fail_next.pop(0), {"error": {"code": "unavailable", "message": "try later"}}
        if call.method == "PUT":
            return self._put(call)
        if call.path == "/agent/v1/register":
            return self._register(call.json())
        refused = self._refuse_token(call.headers.get("Authorization", ""))
        if refused is not None:
            return 401, refused
        if self.pending_approval:
            return 403, {"error": {"code": "host_pending_approval",
                                   "message": "This host waits for its owner's approval."}}
        return self._route(call)

    def _put(self, call: Call) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            if self.upload_refusals:
                self.upload_refusals -= 1
                return 403, {"Error": {"Code": "AccessDenied", "Message": "Request has expired"}}
            self.uploads[call.path] = call.body
        return 200, None

    def _route(self, call: Call) -> tuple[int, dict[str, Any] | None]:
        if call.path == "/agent/v1/heartbeat":
            return 200, self._stamp({"cancel": self.heartbeat_cancel, "key_announcement": self.key_announcement()})
        if call.path == "/agent/v1/poll":
            return 200, self._stamp({"jobs": self._take(call), "cancel": self.poll_cancel})
        if call.path == "/agent/v1/deregister":
            self.revoked = True
            return 200, {}
        if call.path.startswith("/agent/v1/consoles/"):
            return self._console_call(call)
        if self.stale and call.path.endswith(("/lease", "/complete", "/uploads")):
            return 409, {"error": {"code": "stale_claim", "message": "This claim no longer holds the job."}}
        return self._job_call(call)

    def _job_call(self, call: Call) -> tuple[int, dict[str, Any] | None]:
        if call.path.endswith("/lease"):
            return 200, {"lease_expires_at": int(self.now()) + self.lease_seconds, "cancel": self.lease_cancel}
        if call.path.endswith("/uploads"):
            return 200, {"uploads": self._fresh_uploads(call)}
        if call.path.endswith("/complete"):
            return 200, {"status": _status_after(call.json())}
        return 404, {"error": {"code": "route_not_found", "message": call.path}}

    def _console_call(self, call: Call) -> tuple[int, dict[str, Any] | None]:
        console_id = call.path.split("/")[4]
        uploads = [{"seq": seq, "url": f"{self.url}/upload/consoles/{console_id}/{seq}",
                    "expires_at": int(self.now()) + 900} for seq in range(1, 9)]
        if call.path.endswith("/attach"):
            return 200, {"status": self.console_status, "closed_reason": None, "next_seq": 1, "input_after": 0,
                         "uploads": uploads, "max_chunk_bytes": 65536}
        if call.path.endswith("/output"):
            detached = call.json().get("detached")
            status = "closed" if detached else self.console_status
            return 200, {"uploads": [] if detached else uploads, "status": status, "closed_reason": detached}
        return 200, {"input": [], "status": self.console_status, "closed_reason": None}

    def _fresh_uploads(self, call: Call) -> dict[str, Any]:
        job_id = call.path.split("/")[4]
        attempt = int(call.json()["claim_token"].rsplit("-", 1)[1])  # the fake's claim tokens end in the attempt
        return self._uploads(job_id, attempt, expires_at=int(self.now()) + 900,
                             fresh=len(self.calls_to(f"/{job_id}/uploads")))

    def _register(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("token") != "fvet_good":
            return 403, {"error": {"code": "enrollment_refused", "message": "The enrolment token is unknown."}}
        self.agent_public_key = body["public_key"]
        answer = {"agent_id": AGENT_ID, "owner_id": "usr_1", "name": body["name"],
                  "signing_keys": self.signing_keys(), "key_announcement": self.key_announcement()}
        with self.lock:
            if self.pending_registrations:
                self.pending_registrations -= 1
                return 202, self._stamp({**answer, "status": "pending_approval"})
        return 200, self._stamp({**answer, "status": "approved"})

    def _take(self, call: Call) -> list[dict[str, Any]]:
        wait = float(call.query.get("wait", ["0"])[0])
        max_jobs = call.json().get("max_jobs", 1)
        deadline = time.monotonic() + min(wait, MAX_HOLD_SECONDS)
        while True:
            with self.lock:
                if self.queued or time.monotonic() >= deadline:
                    taken, self.queued = self.queued[:max_jobs], self.queued[max_jobs:]
                    return taken
            time.sleep(0.01)

    def _refuse_token(self, header: str) -> dict[str, Any] | None:
        if self.revoked:
            return {"error": {"code": "agent_revoked", "message": "This host was deregistered by its owner."}}
        if not self.check_tokens:
            return None
        try:
            token = header.removeprefix("Bearer ")
            if jwt.get_unverified_header(token).get("typ") != "fv-agent+jwt" or self.agent_public_key is None:
                raise jwt.InvalidTokenError("wrong typ")
            claims = jwt.decode(token, public_key_from_b64(self.agent_public_key), algorithms=["EdDSA"],
                                audience="fleetvisor-agent-api", options={
                                    "require": ["exp", "iat", "sub", "aud", "jti"],
                                    "verify_exp": False, "verify_iat": False})
            if claims["sub"] != AGENT_ID or claims["exp"] - claims["iat"] > 300 \
                    or abs(claims["iat"] - self.now()) > LEEWAY or claims["exp"] < self.now() - LEEWAY:
                raise jwt.InvalidTokenError("claims")
        except jwt.PyJWTError:
            return {"error": {"code": "unauthorized", "message": "The agent token is not valid."}}
        return None

    def _stamp(self, body: dict[str, Any]) -> dict[str, Any]:
        return body if self.omit_server_time else {**body, "server_time": int(self.now())}


def _status_after(completion: dict[str, Any]) -> str:
    if completion.get("cancelled") is True:
        return "cancelled"
    return "succeeded" if completion["exit_code"] == 0 else "failed"


def _handler_for(fake: FakeControlPlane) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(fake.now(), usegmt=True)

        def log_message(self, fmt: str, *args: Any) -> None:  # the tests assert on calls, not on log lines
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = fake.handle(Call(method, parts.path, parse_qs(parts.query), dict(self.headers), body))
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running(fake: FakeControlPlane) -> Iterator[FakeControlPlane]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
