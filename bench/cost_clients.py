"""The clients bench/cost.py drives, each making the requests its real counterpart makes.

- `HostsPage`: the web app's hosts page (frontend/src/state/fleet.ts): while
  visible, `GET /api/changes` (the version and the feed URL, renewed before it
  expires and on a 403/404), then `GET /api/agents`, `GET /api/jobs?limit=20`
  and each reachable host's `GET .../vms`; the feed object read straight from
  the bucket every `poll_ms` through its presigned URL (no token: it passes the
  S3-counting proxy, not the API), a round of lists when its version differs;
  and every 40 s `POST /api/agents/ping` (a server without it answers 404)
  then `GET /api/agents`. While hidden it asks nothing; shown again, it starts
  over from `GET /api/changes`. Not simulated: the silent token refresh (one
  POST per 14 minutes).
- `LongPollHostsPage`: the page before the feed, for the "before" column: the
  lists every 5 s, and `GET /api/changes?after=V&wait=20` held open.
- `JobsOperator`: VM actions as the hosts page sends them: the POST, its job
  followed every 250 ms until final (jobWatch.ts), then the host's VMs again.
- `ConsoleAgent`: a simulated agent (bench/simulated_agent.py,
  which speaks the real protocol without libvirt) that also runs the one
  `console.attach` job it is given as agent/fleetvisor_agent/jobs/console.py
  does while the agent waits in the API: lease renewed every 40 s, the input
  long poll (20 s), and each input echoed back as one chunk (presigned PUT,
  then an `output` report), as a shell at a prompt echoes what is typed.
- `QueueConsoleAgent`: the same console as an agent that waits on its own
  queue runs it: between inputs it long-polls its queue (SQS, through the
  credentials `POST /agent/v1/doorbell` hands out) for `console:<id>` rings,
  fetches with `wait=0` when rung, and once a minute anyway (the safety
  fetch); the lease is renewed as before.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import boto3
import requests

from bench.simulated_agent import SimulatedAgent, Tally

PAGE_REFRESH = 5.0  # the page before the feed: lists every 5 s ...
CHANGES_WAIT = 20  # ... and a long poll held open
TICK = 40.0  # the page now: ping and the host list every 40 s ...
FEED_RENEW_EARLY = 60.0  # ... the feed URL renewed a minute before it expires ...
FEED_RETRY = 5.0  # ... or after this when there is none
JOB_POLL = 0.25
CONSOLE_INPUT_WAIT = 20
LEASE_RENEW = 40.0
SAFETY_FETCH = 60.0  # agent/fleetvisor_agent/waiting.py SAFETY_FETCH_SECONDS


def _shown(visible: threading.Event, stop: threading.Event) -> bool:
    """Wait while the tab is hidden; False once stopped."""
    while not visible.wait(0.2):
        if stop.is_set():
            return False
    return not stop.is_set()


class _Page:
    """What both hosts pages share: a session with the operator's token, and the lists."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.requests = 0

    def _call(self, method: str, path: str, timeout: float = 10, missing_ok: bool = False) -> Any:
        self.requests += 1
        answer = self.session.request(method, self.url + path, timeout=timeout)
        if missing_ok and answer.status_code in (404, 405):  # a server without the route
            return None
        answer.raise_for_status()
        return answer.json()

    def _get(self, path: str, timeout: float = 10) -> Any:
        return self._call("GET", path, timeout)


class HostsPage(_Page):
    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        self.bucket = requests.Session()  # the browser's GET of the feed: no token, no header of ours
        self.seen: int | None = None
        self.feed: dict[str, Any] | None = None
        self.renew_at = 0.0
        self.loaded: set[str] = set()
        self.lock = threading.Lock()

    def run(self, stop: threading.Event, visible: threading.Event) -> list[threading.Thread]:
        """Start the page's two loops (the feed, the tick); they end at `stop`, and ask nothing while
        `visible` is clear (a hidden tab), as frontend/src/state/fleet.ts does."""
        threads = [threading.Thread(target=self._follow_feed, args=(stop, visible), daemon=True),
                   threading.Thread(target=self._tick, args=(stop, visible), daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _lists(self, all_vms: bool = True) -> None:
        with self.lock:
            agents = self._get("/api/agents")["agents"]
            if all_vms:
                self._get("/api/jobs?limit=20")
            for agent in agents:
                if agent.get("approval") != "pending" and (all_vms or agent["agent_id"] not in self.loaded):
                    self._get(f"/api/agents/{agent['agent_id']}/vms")
                    self.loaded.add(agent["agent_id"])

    def _open_feed(self) -> None:
        answer = self._get("/api/changes")
        self._note(answer["version"])
        self.feed = answer["feed"]
        self.renew_at = time.monotonic() + max(60.0, answer["feed"]["expires_at"] - time.time() - FEED_RENEW_EARLY)

    def _note(self, version: int) -> None:
        moved = self.seen is not None and version != self.seen
        self.seen = version
        if moved:
            self._lists()

    def _read_feed(self) -> None:
        if self.feed is None or time.monotonic() >= self.renew_at:
            self._open_feed()
        assert self.feed is not None
        answer = self.bucket.get(self.feed["url"], timeout=10)
        if answer.status_code in (403, 404):
            self.feed = None  # renewed at the next read
            return
        answer.raise_for_status()
        self._note(answer.json()["version"])

    def _follow_feed(self, stop: threading.Event, visible: threading.Event) -> None:
        while _shown(visible, stop):
            self.seen, self.feed = None, None  # shown (again): the version first, then the lists
            _unless_stopped(self._open_feed, stop)
            _unless_stopped(self._lists, stop)
            while visible.is_set() and not stop.wait(self.feed["poll_ms"] / 1000 if self.feed else FEED_RETRY):
                if not visible.is_set():
                    break
                _unless_stopped(self._read_feed, stop)

    def _tick(self, stop: threading.Event, visible: threading.Event) -> None:
        while _shown(visible, stop):
            if stop.wait(TICK) or not visible.is_set():
                continue
            _unless_stopped(lambda: self._call("POST", "/api/agents/ping", missing_ok=True), stop)
            _unless_stopped(lambda: self._lists(all_vms=False), stop)


class LongPollHostsPage(_Page):
    def _refresh(self) -> None:
        agents = self._get("/api/agents")["agents"]
        self._get("/api/jobs?limit=20")
        for agent in agents:
            if agent.get("approval") != "pending":
                self._get(f"/api/agents/{agent['agent_id']}/vms")

    def run(self, stop: threading.Event, visible: threading.Event) -> list[threading.Thread]:
        """Start the page's two loops; they end at `stop`. While `visible` is clear (a hidden tab) they
        start no request (a long poll in flight still runs out on the server: API Gateway does not stop
        a function when its caller goes)."""
        moved = threading.Event()
        threads = [threading.Thread(target=self._refresh_loop, args=(stop, moved, visible), daemon=True),
                   threading.Thread(target=self._follow_changes, args=(stop, moved, visible), daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _refresh_loop(self, stop: threading.Event, moved: threading.Event, visible: threading.Event) -> None:
        while _shown(visible, stop):
            _unless_stopped(self._refresh, stop)
            moved.wait(PAGE_REFRESH)
            moved.clear()

    def _follow_changes(self, stop: threading.Event, moved: threading.Event, visible: threading.Event) -> None:
        version = None
        while _shown(visible, stop):
            query = "wait=0" if version is None else f"after={version}&wait={CHANGES_WAIT}"
            answer = _unless_stopped(lambda q=query: self._get(f"/api/changes?{q}", timeout=CHANGES_WAIT + 10), stop)
            if answer is None:
                return
            if version is not None and answer["version"] != version:
                moved.set()
            version = answer["version"]


def _unless_stopped(call: Any, stop: threading.Event) -> Any:
    """The call's answer; None when it failed because the run (and the stack) is over, else it raises."""
    try:
        return call()
    except requests.RequestException:
        if stop.is_set():
            return None
        raise


class JobsOperator:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def act(self, agent_id: str, vm_uuid: str, action: str) -> tuple[dict[str, Any], float]:
        """The final job and the client's clock (ms) when its 202 arrived."""
        answer = self.session.post(f"{self.url}/api/agents/{agent_id}/vms/{vm_uuid}/actions",
                                   json={"action": action}, timeout=10)
        accepted_ms = time.time() * 1000
        answer.raise_for_status()
        job = answer.json()
        deadline = time.monotonic() + 60
        while not job["final"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job['job_id']} did not end within 60 s: {job['status']}")
            time.sleep(JOB_POLL)
            job = self._get(f"/api/jobs/{job['job_id']}")
        self._get(f"/api/agents/{agent_id}/vms")
        return job, accepted_ms

    def _get(self, path: str) -> Any:
        answer = self.session.get(self.url + path, timeout=10)
        answer.raise_for_status()
        return answer.json()


class ConsoleAgent(SimulatedAgent):
    def __init__(self, url: str, token: str, index: int) -> None:
        super().__init__(url, token, index, threading.Event(), Tally())
        self.uploads: dict[int, str] = {}
        self.next_seq, self.input_after = 1, 0
        self.closing: str | None = None
        self.chunks_sent = 0

    def leave(self) -> None:
        """Deregister, so that the hosts page measured later lists the one real host only."""
        self._post("/agent/v1/deregister", {})

    def announce(self) -> None:
        """One heartbeat, so the control plane knows the VM (and the host is online)."""
        self._post("/agent/v1/heartbeat", {"vms": [self.vm], "running_jobs": []})

    def run_one_console(self, timeout: float = 60) -> None:
        """Poll until the console job comes, and serve it until the control plane closes the session."""
        job, claim = self._claim_console(timeout)
        job_id, console_id = claim["job_id"], job["args"]["console_id"]
        self._post(f"/agent/v1/jobs/{job_id}/lease", {"claim_token": claim["claim_token"], "running": True})
        over = threading.Event()
        renewing = threading.Thread(target=self._renew, args=(job_id, claim["claim_token"], over), daemon=True)
        renewing.start()
        base = f"/agent/v1/consoles/{console_id}"
        attached = self._post(f"{base}/attach", {"claim_token": claim["claim_token"]})
        self.next_seq, self.input_after = attached["next_seq"], attached["input_after"]
        self._note(attached)
        self._serve_input(base, claim["claim_token"], console_id)
        self._post(f"{base}/output", {"claim_token": claim["claim_token"], "chunks": [], "detached": self.closing})
        over.set()
        self._post(f"/agent/v1/jobs/{job_id}/complete", {
            "claim_token": claim["claim_token"], "exit_code": 0, "summary": f"console closed: {self.closing}",
            "outputs": [], "vm": None})

    def _claim_console(self, timeout: float) -> tuple[dict[str, Any], dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for claim in self._post("/agent/v1/poll?wait=20", {}, timeout=35).get("jobs", []):
                job = json.loads(base64.urlsafe_b64decode(claim["envelope"]["payload"] + "=="))
                if job["op"] == "console.attach":
                    return job, claim
        raise RuntimeError(f"no console job within {timeout:.0f} s")

    def _renew(self, job_id: str, claim_token: str, over: threading.Event) -> None:
        while not over.wait(LEASE_RENEW):
            self._post(f"/agent/v1/jobs/{job_id}/lease", {"claim_token": claim_token, "running": True})

    def _serve_input(self, base: str, claim_token: str, console_id: str) -> None:
        """Type what the operator sends until the session closes: here, by long-polling the API."""
        while self.closing is None:
            self._take_input(base, claim_token, CONSOLE_INPUT_WAIT)

    def _take_input(self, base: str, claim_token: str, wait: int) -> None:
        answer = self._post(f"{base}/input?wait={wait}", {"claim_token": claim_token, "after": self.input_after},
                            timeout=wait + 15)
        self._note(answer)
        for entry in answer.get("input", []):
            if entry["seq"] > self.input_after:
                self._echo(base, claim_token, entry["data"].encode())
                self.input_after = entry["seq"]

    def _echo(self, base: str, claim_token: str, data: bytes) -> None:
        if self.next_seq not in self.uploads:
            self._note(self._post(f"{base}/output", {"claim_token": claim_token, "chunks": []}))
        self.session.put(self.uploads[self.next_seq], data=data, timeout=10).raise_for_status()
        self._note(self._post(f"{base}/output", {"claim_token": claim_token,
                                                 "chunks": [{"seq": self.next_seq, "size": len(data)}]}))
        self.next_seq += 1
        self.chunks_sent += 1

    def _note(self, answer: dict[str, Any]) -> None:
        for upload in answer.get("uploads", []):
            self.uploads[upload["seq"]] = upload["url"]
        if answer.get("status") in ("closing", "closed"):
            self.closing = answer.get("closed_reason") or "requested"


class QueueConsoleAgent(ConsoleAgent):
    def _serve_input(self, base: str, claim_token: str, console_id: str) -> None:
        """Wait on the host's own queue for the console's ring; fetch when rung, and each SAFETY_FETCH anyway."""
        access = self._post("/agent/v1/doorbell", {})
        keys = access["credentials"]
        sqs = boto3.client("sqs", endpoint_url=access["endpoint"], region_name=access["region"],
                           aws_access_key_id=keys["access_key_id"], aws_secret_access_key=keys["secret_access_key"],
                           aws_session_token=keys["session_token"])
        self._take_input(base, claim_token, 0)
        due = time.monotonic() + SAFETY_FETCH
        while self.closing is None:
            wait = max(0, min(20, round(due - time.monotonic())))
            messages = sqs.receive_message(QueueUrl=access["queue_url"], WaitTimeSeconds=wait,
                                           MaxNumberOfMessages=10).get("Messages", [])
            if messages:
                sqs.delete_message_batch(QueueUrl=access["queue_url"], Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            if f"console:{console_id}" in {m["Body"] for m in messages} or time.monotonic() >= due:
                self._take_input(base, claim_token, 0)
                due = time.monotonic() + SAFETY_FETCH
