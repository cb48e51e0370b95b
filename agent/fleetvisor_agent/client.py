"""The control-plane client: the one module that speaks HTTP.

Every call has a timeout, transient failures (connection errors, 5xx, 429) are
retried with exponential backoff and full jitter, and every answer updates the
agent's estimate of server time, which its JWTs and the expiry check of signed
jobs use, so a host whose clock is minutes off still works. Presigned upload
URLs carry credentials in their query string: they are never logged.

Waiting for an owner's approval is not a failure of the connection: it gets
its own, slower backoff (`approval_backoff`: 10 s doubling to 5 min).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import __version__
from .claim import Claim, claims_in

API_PREFIX = "/agent/v1"
AUDIENCE = "fleetvisor-agent-api"
TOKEN_TYPE = "fv-agent+jwt"
TOKEN_LIFETIME = 300
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
POLL_SLACK = 10.0  # the server may hold a poll for `wait` seconds, then needs time to answer
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# A host waiting for its owner's approval asks again 10, 20, 40 s... apart, at most every 5 min, each delay
# jittered down by up to a fifth so a fleet enrolled together does not ask in step.
APPROVAL_BACKOFF_BASE = 10.0
APPROVAL_BACKOFF_CAP = 300.0
APPROVAL_BACKOFF_JITTER = 0.2
CLOCK_JUMP = 30.0  # a 401 that moved our server-time estimate this much is worth one retry
# Retry budgets (seconds) for calls that must not outlive the job they serve.
REGISTER_BUDGET = 120.0
LEASE_BUDGET = 30.0
COMPLETE_BUDGET = 150.0  # a bit over one lease: after that the claim has lapsed anyway
DEREGISTER_BUDGET = 60.0

log = logging.getLogger(__name__)
T = TypeVar("T")


class CallRefused(Exception):
    """A service refused a call: HTTP status (0: no answer), its error code, a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ApiError(CallRefused):
    """The control plane (or the upload target) refused a call: HTTP status, stable code, message."""


class Unauthorized(ApiError):
    """401: the agent's identity is not accepted (code agent_revoked: deregistered by its owner)."""


class StaleClaim(ApiError):
    """409 stale_claim: another attempt holds the job now; stop working on it."""


class PendingApproval(ApiError):
    """403 host_pending_approval: the host is enrolled but its owner has not approved it yet; wait and ask again."""


class UploadRefused(ApiError):
    """403 from the upload target: the presigned URL expired (S3: "Request has expired") or no longer holds."""


class Unreachable(ApiError):
    """Transient failures went on past the call's retry budget (or the agent is stopping)."""


def unless_refused(call: Callable[[], T], logger: logging.Logger, what: str, job_id: str, *,
                   level: int = logging.WARNING) -> T | None:
    """`call()`'s answer about a job in hand; None when the control plane refused it, logged as `what`.

    A lost claim (StaleClaim) and a lost identity (Unauthorized) are not shrugged off: they propagate, so
    that the job is given up or the agent stops.
    """
    try:
        return call()
    except (StaleClaim, Unauthorized):
        raise
    except ApiError as exc:
        logger.log(level, "%s job_id=%s error=%s", what, job_id, exc)
        return None


@dataclass(frozen=True)
class RawAnswer:
    """What another service (the agent's SQS queue) answered: status, headers (any case), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Backoff:
    """Exponential backoff with jitter: a random delay in [(1 - jitter) * ceiling, ceiling), where the
    ceiling is min(cap, base * 2^n). The default jitter of 1 is "full jitter": anywhere from 0."""

    def __init__(self, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP,
                 rng: Callable[[], float] = random.random, *, jitter: float = 1.0) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self._rng = rng
        self._failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * float(2 ** self._failures))
        self._failures = min(self._failures + 1, 32)
        return ceiling * (1.0 - self.jitter + self.jitter * self._rng())

    def reset(self) -> None:
        self._failures = 0


def approval_backoff(base: float = APPROVAL_BACKOFF_BASE) -> Backoff:
    """The wait between asking again while the host's owner has not approved it (`base` is for tests)."""
    return Backoff(base, APPROVAL_BACKOFF_CAP, jitter=APPROVAL_BACKOFF_JITTER)


class ServerClock:
    """The agent's estimate of the control plane's clock: local time plus the last observed offset."""

    def __init__(self, local: Callable[[], float] = time.time) -> None:
        self._local = local
        self.offset = 0.0

    def now(self) -> float:
        return self._local() + self.offset

    def observe(self, server_time: float) -> None:
        # Both sources truncate to whole seconds; +0.5 centres the estimate.
        self.offset = server_time + 0.5 - self._local()


def mint_agent_jwt(private_key: Ed25519PrivateKey, agent_id: str, now: float,
                   lifetime: int = TOKEN_LIFETIME, instance: str | None = None) -> str:
    """A request token per docs/protocol.md, its times taken from `now` (server time). `instance` names
    the long-running agent's current poller (`ControlPlane.instance`), so that the control plane can
    tell its polls from those a dead process or a cut connection left waiting."""
    issued = int(now)
    claims: dict[str, Any] = {"sub": agent_id, "aud": AUDIENCE, "iat": issued, "exp": issued + lifetime,
                              "jti": uuid.uuid4().hex}
    if instance is not None:
        claims["inst"] = instance
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"typ": TOKEN_TYPE})


class ControlPlane:
    def __init__(self, url: str, private_key: Ed25519PrivateKey, agent_id: str | None = None, *,
                 stop: threading.Event | None = None, clock: ServerClock | None = None,
                 pool_size: int = 10, backoff_base: float = BACKOFF_BASE, process: str | None = None) -> None:
        """`process`: a random id of the long-running agent process; one-shot commands leave it out."""
        self.url = url.rstrip("/")
        self._process = process
        self._poll_generation = 0
        self.backoff_base = backoff_base
        self.agent_id = agent_id
        self.clock = clock or ServerClock()
        self._key = private_key
        self._stop = stop or threading.Event()
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"fleetvisor-agent/{__version__}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    @property
    def instance(self) -> str | None:
        """What this client's tokens name in `inst`: the process, and how many of its polls it has given up
        on. A poll that failed on the way may still wait at the API (a Lambda outlives its caller); the
        next one names a new generation, so that the API lets the abandoned one claim nothing."""
        if self._process is None:
            return None
        return f"{self._process}.{self._poll_generation}"

    def _abandon_poll(self) -> None:
        self._poll_generation += 1

    def close(self) -> None:
        self._session.close()

    def server_now(self) -> float:
        return self.clock.now()

    def register(self, token: str, *, name: str, hostname: str, environment: str | None,
                 public_key: str, capabilities: dict[str, Any],
                 budget: float | None = REGISTER_BUDGET) -> dict[str, Any]:
        """Enrol. Approved (200): this client speaks as the agent id from now on. Waiting for the owner's
        approval (202): the answer's `status` is "pending_approval" and nothing changes here, because the
        control plane does not accept this key's tokens yet. `budget` None: retry until stopped."""
        body: dict[str, Any] = {"token": token, "name": name, "hostname": hostname,
                                "public_key": public_key, "capabilities": capabilities}
        if environment:
            body["environment"] = environment
        response = self._send("/register", body, auth=False, budget=budget, interruptible=True)
        answer = self._answer(response)
        if response.status_code == 202 or answer.get("status") == "pending_approval":
            return {**answer, "status": "pending_approval"}
        self.agent_id = str(answer["agent_id"])
        return answer

    def deregister(self) -> dict[str, Any]:
        """Leave the fleet: from now on the control plane answers this agent's every call `401 agent_revoked`."""
        return self._post("/deregister", {}, budget=DEREGISTER_BUDGET, interruptible=True)

    def heartbeat(self, capabilities: dict[str, Any], vms: list[dict[str, Any]], running_jobs: list[str],
                  *, budget: float = 30.0, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"capabilities": capabilities, "vms": vms, "running_jobs": running_jobs, **(extra or {})}
        return self._post("/heartbeat", body, budget=budget, interruptible=True)

    def poll(self, wait: int, max_jobs: int = 1,
             on_cancel: Callable[[list[str]], None] | None = None,
             rung: list[str] | None = None) -> list[Claim]:
        """Claimed jobs (claim.py), or [] after about `wait` seconds; retries until answered or the agent stops.

        The answer may also name running jobs an operator cancelled (their ring
        ends the wait early); those go to `on_cancel`. `rung`: what the agent heard
        on its own queue (it then polls with wait 0 to claim it).
        """
        body: dict[str, Any] = {"max_jobs": max_jobs}
        if rung is not None:
            body["rung"] = rung
        answer = self._post(f"/poll?wait={wait}", body, timeout=wait + POLL_SLACK,
                            budget=None, interruptible=True, on_failure=self._abandon_poll)
        cancels = answer.get("cancel")
        if on_cancel is not None and isinstance(cancels, list):
            on_cancel([job_id for job_id in cancels if isinstance(job_id, str)])
        return claims_in(answer.get("jobs"))

    def doorbell(self) -> dict[str, Any]:
        """Where and with which short-lived credentials this agent waits on its own queue (sqs.QueueAccess);
        ApiError 404 `doorbell_unavailable` from a control plane that offers none."""
        return self._post("/doorbell", {}, budget=LEASE_BUDGET, interruptible=True)

    def lease(self, job_id: str, claim_token: str, running: bool,
              progress: dict[str, Any] | None = None) -> dict[str, Any]:
        """Renew a job's lease (`running` on the first call); `progress` is the job's latest progress report."""
        body: dict[str, Any] = {"claim_token": claim_token, "running": running}
        if progress is not None:
            body["progress"] = progress
        return self._post(f"/jobs/{quote(job_id, safe='')}/lease", body, budget=LEASE_BUDGET)

    def fresh_uploads(self, job_id: str, claim_token: str) -> dict[str, Any]:
        """New presigned upload URLs for a job this agent holds (the first ones expired): {"result": {...}}."""
        answer = self._post(f"/jobs/{quote(job_id, safe='')}/uploads", {"claim_token": claim_token},
                            budget=LEASE_BUDGET)
        uploads = answer.get("uploads")
        return uploads if isinstance(uploads, dict) else {}

    def complete(self, job_id: str, claim_token: str, *, exit_code: int, summary: str,
                 outputs: list[str], vm: dict[str, Any] | None, cancelled: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"claim_token": claim_token, "exit_code": exit_code, "summary": summary,
                                "outputs": outputs, "vm": vm}
        if cancelled:
            body["cancelled"] = True
        return self._post(f"/jobs/{quote(job_id, safe='')}/complete", body, budget=COMPLETE_BUDGET)

    def console_attach(self, console_id: str, claim_token: str) -> dict[str, Any]:
        """Take over a console session for this attempt: where its chunks go and the input already taken."""
        return self._post(f"/consoles/{quote(console_id, safe='')}/attach", {"claim_token": claim_token},
                          budget=LEASE_BUDGET)

    def console_output(self, console_id: str, claim_token: str, chunks: list[dict[str, int]],
                       detached: str | None = None) -> dict[str, Any]:
        """Report uploaded chunks (and, with `detached`, that this agent has let go of the console)."""
        body: dict[str, Any] = {"claim_token": claim_token, "chunks": chunks}
        if detached is not None:
            body["detached"] = detached
        return self._post(f"/consoles/{quote(console_id, safe='')}/output", body, budget=LEASE_BUDGET)

    def console_input(self, console_id: str, claim_token: str, after: int, wait: int) -> dict[str, Any]:
        """Operator input past `after`; the server holds the call up to `wait` seconds when there is none."""
        return self._post(f"/consoles/{quote(console_id, safe='')}/input?wait={wait}",
                          {"claim_token": claim_token, "after": after}, timeout=wait + POLL_SLACK,
                          budget=LEASE_BUDGET, interruptible=True)

    def upload(self, url: str, data: bytes, *, budget: float = COMPLETE_BUDGET) -> None:
        """PUT `data` to a presigned URL, exactly as the protocol says: the bytes and no extra headers.

        UploadRefused on 403 (ask for fresh URLs), ApiError on any other refusal.
        """
        response = self._with_retries(
            lambda: self._session.put(url, data=data, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)),
            what=f"upload to {_redact(url)}", budget=budget, interruptible=False, observe=False)
        if response.status_code == 403:
            raise UploadRefused(403, "upload_refused", f"PUT {_redact(url)} answered 403 (expired URL?)")
        if not 200 <= response.status_code < 300:
            raise ApiError(response.status_code, "upload_failed",
                           f"PUT {_redact(url)} answered {response.status_code}")

    def post_raw(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> RawAnswer:
        """One POST of `body` to an absolute URL that is not the control plane (the agent's SQS queue), on
        this client's connection pool: no JWT, no retries (the caller knows which answers are transient),
        no redirects, server time not observed. Unreachable on a connection error or after `timeout` seconds
        without an answer."""
        try:
            response = self._session.post(url, data=body, headers=dict(headers),
                                          timeout=(CONNECT_TIMEOUT, timeout), allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise Unreachable(0, "unreachable", f"POST {_redact(url)}: {type(exc).__name__}") from exc
        return RawAnswer(response.status_code, response.headers, response.content)

    def _post(self, path: str, body: dict[str, Any], *, budget: float | None, auth: bool = True,
              timeout: float = READ_TIMEOUT, interruptible: bool = False,
              on_failure: Callable[[], None] | None = None) -> dict[str, Any]:
        return self._answer(self._send(path, body, budget=budget, auth=auth, timeout=timeout,
                                       interruptible=interruptible, on_failure=on_failure))

    def _send(self, path: str, body: dict[str, Any], *, budget: float | None, auth: bool = True,
              timeout: float = READ_TIMEOUT, interruptible: bool = False,
              on_failure: Callable[[], None] | None = None) -> requests.Response:
        url = self.url + API_PREFIX + path
        for attempt in (1, 2):
            offset_before = self.clock.offset
            response = self._with_retries(
                # A redirect would turn the POST into a GET; refuse it as the error it is.
                lambda: self._session.post(url, json=body, headers=self._headers(auth),
                                           timeout=(CONNECT_TIMEOUT, timeout), allow_redirects=False),
                what=path.split("?", maxsplit=1)[0], budget=budget, interruptible=interruptible, observe=True,
                on_failure=on_failure)
            clock_moved = abs(self.clock.offset - offset_before) > CLOCK_JUMP
            if response.status_code == 401 and auth and attempt == 1 and clock_moved:
                log.warning("token refused while our clock estimate was off by %.0f s; retrying once",
                            self.clock.offset - offset_before)
                continue
            break
        return response

    def _headers(self, auth: bool) -> dict[str, str]:
        if not auth:
            return {}
        if self.agent_id is None:
            raise RuntimeError("the agent is not enrolled yet")
        return {"Authorization": "Bearer " + mint_agent_jwt(self._key, self.agent_id, self.clock.now(),
                                                              instance=self.instance)}

    def _with_retries(self, send: Callable[[], requests.Response], *, what: str, budget: float | None,
                      interruptible: bool, observe: bool,
                      on_failure: Callable[[], None] | None = None) -> requests.Response:
        backoff = Backoff(base=self.backoff_base)
        deadline = None if budget is None else time.monotonic() + budget
        failures = 0
        while True:
            response, problem, retry_after = self._attempt(send, observe)
            if response is not None:
                if failures:
                    log.info("control plane call succeeded again call=%s after_failures=%d", what, failures)
                return response
            failures += 1
            if on_failure is not None:
                on_failure()
            delay = max(backoff.next_delay(), min(retry_after, BACKOFF_CAP))
            if (interruptible and self._stop.is_set()) or (deadline is not None
                                                          and time.monotonic() + delay > deadline):
                raise Unreachable(0, "unreachable", f"{what}: {problem}")
            log.warning("control plane call failed call=%s problem=%s retry_in=%.1fs", what, problem, delay)
            if interruptible:
                self._stop.wait(delay)
            else:
                time.sleep(delay)

    def _attempt(self, send: Callable[[], requests.Response],
                 observe: bool) -> tuple[requests.Response | None, str, float]:
        """One try: (response, "", 0) if it is final, else (None, what went wrong, Retry-After)."""
        try:
            response = send()
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            # str(exc) can quote a presigned URL; the class name says enough.
            return None, type(exc).__name__, 0.0
        if observe:
            self._observe_date(response)
        if response.status_code == 429 or response.status_code >= 500:
            return None, f"HTTP {response.status_code}", _retry_after(response)
        return response, "", 0.0

    def _observe_date(self, response: requests.Response) -> None:
        header = response.headers.get("Date")
        if header:
            # A malformed Date header leaves the estimate as it was.
            with contextlib.suppress(TypeError, ValueError):
                self.clock.observe(email.utils.parsedate_to_datetime(header).timestamp())

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        body = _json_object(response)
        if 200 <= response.status_code < 300:
            if body is None:
                raise ApiError(response.status_code, "bad_response", "the answer is not a JSON object")
            server_time = body.get("server_time")
            if isinstance(server_time, int | float) and not isinstance(server_time, bool):
                self.clock.observe(server_time)
            return body
        raise _error(response.status_code, body)


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        value = json.loads(response.content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _error(status: int, body: dict[str, Any] | None) -> ApiError:
    error = body.get("error") if body else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or f"http_{status}")
    message = str(error.get("message") or f"HTTP {status}")
    if status == 401:
        return Unauthorized(status, code, message)
    if status == 409 and code == "stale_claim":
        return StaleClaim(status, code, message)
    if status == 403 and code == "host_pending_approval":
        return PendingApproval(status, code, message)
    return ApiError(status, code, message)


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
