"""A simulated agent for the benchmarks: the real protocol, no libvirt.

It enrols, signs its calls with EdDSA agent tokens, heartbeats, waits for
work and completes every job at once, reporting one VM. It waits where a real
agent does (agent/fleetvisor_agent/waiting.py): on its own SQS queue, with the
credentials `POST /agent/v1/doorbell` hands out, read and used through the
agent's own `fleetvisor_agent.sqs` (and so `sigv4`), claiming what was rung
with `POST /agent/v1/poll?wait=0`; or, as agents did before and fall back
to, in the API's long poll (`poll?wait=20`).

Every request it makes is counted in a `Tally`, by kind (`KINDS`) and agent,
while the tally's window is open; every failure is counted as an error.
"""

from __future__ import annotations

import base64
import random
import secrets
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "agent")]  # this tree's agent, not an installed one

from fleetvisor_agent.client import RawAnswer, Unreachable  # noqa: E402
from fleetvisor_agent.sigv4 import REFRESH_MARGIN  # noqa: E402
from fleetvisor_agent.sqs import OwnQueue, QueueAccess, QueueError  # noqa: E402
from fleetvisor_agent.waiting import CLAIMABLE_RE, PING  # noqa: E402

HEARTBEAT, DOORBELL, POLL, JOB_CALLS, OTHER = "API heartbeat", "API doorbell", "API poll/claim", \
    "API lease/complete", "API other"
RECEIVE, DELETE = "SQS receive", "SQS delete"
KINDS = (HEARTBEAT, DOORBELL, POLL, JOB_CALLS, RECEIVE, DELETE, OTHER)
_API_KINDS = {"heartbeat": HEARTBEAT, "doorbell": DOORBELL, "poll": POLL, "jobs": JOB_CALLS}
_SQS_KINDS = {"AmazonSQS.ReceiveMessage": RECEIVE, "AmazonSQS.DeleteMessageBatch": DELETE}
API_WAIT = 20  # the API long poll's wait, as the real agent asks for it


class Window(Protocol):
    def is_set(self) -> bool: ...


class Stop(Window, Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...


class Tally:
    """One process's counts: requests by agent and kind while `window` is set, the agents that were
    handed work in it (not idle), and failures (any time)."""

    def __init__(self, window: Window | None = None) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.requests: dict[int, Counter[str]] = defaultdict(Counter)
        self.busy: set[int] = set()
        self.errors = 0

    def request(self, agent: int, kind: str) -> None:
        if self._window is None or self._window.is_set():
            with self._lock:
                self.requests[agent][kind] += 1

    def handed_work(self, agent: int) -> None:
        if self._window is None or self._window.is_set():
            with self._lock:
                self.busy.add(agent)

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def summary(self, agents: list[int]) -> dict[str, Any]:
        """What the process reports: counts summed over its idle agents and over all of them."""
        with self._lock:
            idle = [a for a in agents if a not in self.busy]
            return {"agents": len(agents), "idle_agents": len(idle), "errors": self.errors,
                    "idle": dict(sum((self.requests[a] for a in idle), Counter())),
                    "all": dict(sum((self.requests[a] for a in agents), Counter()))}


def kind_of(path: str) -> str:
    """`/agent/v1/heartbeat` → HEARTBEAT, and so on."""
    parts = urlsplit(path).path.split("/")
    return _API_KINDS.get(parts[3], OTHER) if len(parts) > 3 else OTHER


class SimulatedAgent:
    def __init__(self, url: str, token: str, index: int, stop: Stop, tally: Tally) -> None:
        self.url, self.index, self.stop, self.tally = url, index, stop, tally
        self.key = Ed25519PrivateKey.generate()
        self.session = requests.Session()
        self.vm = {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleet-{index}")), "name": f"vm-{index}",
                   "state": "running", "vcpus": 1, "memory_kib": 524288}
        self.queue: OwnQueue | None = None
        self.renew_at = 0.0
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        answer = self._post("/agent/v1/register", {
            "token": token, "name": f"sim-{index:05d}", "hostname": f"sim-{index}",
            "public_key": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), "capabilities": {"simulated": True}},
            auth=False)
        self.agent_id = answer["agent_id"]

    # -- the control plane ---------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        now = int(time.time())
        token = jwt.encode({"sub": getattr(self, "agent_id", ""), "aud": "fleetvisor-agent-api", "iat": now,
                            "exp": now + 240, "jti": secrets.token_hex(8)}, self.key, algorithm="EdDSA",
                           headers={"typ": "fv-agent+jwt"})
        return {"Authorization": f"Bearer {token}"}

    def _post(self, path: str, body: Any, auth: bool = True, timeout: float = 15) -> Any:
        self.tally.request(self.index, kind_of(path))
        try:
            answer = self.session.post(self.url + path, json=body, headers=self._headers() if auth else {},
                                       timeout=timeout)
        except requests.RequestException as exc:
            raise RuntimeError(f"{path}: {exc}") from exc
        if answer.status_code >= 400:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
        return answer.json()

    def heartbeat(self) -> None:
        self._post("/agent/v1/heartbeat", {"vms": [self.vm], "running_jobs": []})

    def heartbeats(self, interval: float) -> None:
        """A heartbeat every `interval` (± 10 %), the first after a random part of one (as in a fleet
        that has been running a while)."""
        self.stop.wait(random.uniform(0, interval))
        while not self.stop.is_set():
            self.guard(self.heartbeat)
            self.stop.wait(interval * random.uniform(0.9, 1.1))

    # -- SQS: the Poster seam fleetvisor_agent.sqs.OwnQueue sends through ----------------
    def post_raw(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> RawAnswer:
        self.tally.request(self.index, _SQS_KINDS.get(headers.get("X-Amz-Target", ""), OTHER))
        try:
            response = self.session.post(url, data=body, headers=dict(headers), timeout=(5, timeout),
                                         allow_redirects=False)
        except requests.RequestException as exc:
            raise Unreachable(0, "unreachable", f"POST {url}: {type(exc).__name__}") from exc
        return RawAnswer(response.status_code, response.headers, response.content)

    # -- waiting for work ---------------------------------------------------------
    def waits_on_queue(self) -> None:
        """Long-poll the host's own queue; claim what was rung (agent/fleetvisor_agent/waiting.py)."""
        while not self.stop.is_set():
            rung = self.guard(self._wait_once) or []
            if PING in rung:  # someone looks at the host: a sign of life at once, as the agent gives
                self.guard(self.heartbeat)
            claims = [body for body in rung if CLAIMABLE_RE.fullmatch(body)]
            if claims:
                self.tally.handed_work(self.index)
                self.guard(partial(self._claim, "/agent/v1/poll?wait=0", {"max_jobs": 1, "rung": claims}))

    def waits_in_api(self) -> None:
        """Hold the API's long poll back to back, as agents did before their own queue (and fall back to)."""
        while not self.stop.is_set():
            self.guard(lambda: self._claim(f"/agent/v1/poll?wait={API_WAIT}", {}, timeout=API_WAIT + 15))

    def queue_in_hand(self) -> OwnQueue:
        """The queue and its credentials, asked for again when they near expiry. The first ones are renewed
        at a random moment of their life instead, so that a fleet's renewals are spread as they are once its
        hosts have been up for a while, not all at the run's start."""
        if self.queue is None or self.queue.needs_refresh() or time.time() >= self.renew_at:
            first = self.renew_at == 0.0
            self.queue = OwnQueue(self, QueueAccess.from_answer(self._post("/agent/v1/doorbell", {})), time.time)
            expires_at = self.queue.access.credentials.expires_at or float("inf")
            life = expires_at - REFRESH_MARGIN - time.time()
            self.renew_at = time.time() + random.uniform(0, life) if first else float("inf")
        return self.queue

    def _wait_once(self) -> list[str]:
        queue = self.queue_in_hand()
        try:
            messages = queue.receive()
            if messages:
                queue.delete([m.receipt_handle for m in messages])
        except QueueError:
            self.queue = None  # counted as an error; the next wait asks for the queue afresh, as the agent does
            raise
        return [m.body for m in messages]

    def _claim(self, path: str, body: dict[str, Any], timeout: float = 15) -> None:
        for job in self._post(path, body, timeout=timeout).get("jobs", []):
            self.tally.handed_work(self.index)
            self.guard(partial(self._finish, job))

    def _finish(self, job: dict[str, Any]) -> None:
        self._post(f"/agent/v1/jobs/{job['job_id']}/lease", {"claim_token": job["claim_token"], "running": True})
        self._post(f"/agent/v1/jobs/{job['job_id']}/complete", {
            "claim_token": job["claim_token"], "exit_code": 0, "summary": "simulated", "vm": self.vm})

    def guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - every failure is counted, the agent carries on
            if self.stop.is_set():
                return None  # the run is over and the stack is going away
            self.tally.error()
            print(f"fleet: {time.strftime('%H:%M:%S')} agent {self.index} error: {exc}", file=sys.stderr, flush=True)
            self.stop.wait(1)
            return None

