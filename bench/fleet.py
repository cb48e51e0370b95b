"""A fleet against the local stack: N simulated agents, each heartbeating every
30 s (± 10 %) and holding a long poll, for M minutes, while an operator sends
jobs to random agents.

Prints the error count, dispatch latency (API 202 → claim, and → succeeded)
to a random agent during the run, requests per idle agent per minute, and the
API process's CPU time per agent per minute. The simulated agents speak the
real protocol (enrolment, EdDSA agent tokens, poll, lease, complete) but run
no libvirt: they report one VM and complete every job at once.

Usage: python bench/fleet.py [--agents 1000] [--minutes 5] [--processes 4]
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.local import LocalStack, StackConfig, free_port  # noqa: E402

HEARTBEAT = 30.0
WAIT = 20


class SimulatedAgent:
    def __init__(self, url: str, token: str, index: int, stop: Any, counters: Any) -> None:
        self.url, self.stop, self.counters = url, stop, counters
        self.key = Ed25519PrivateKey.generate()
        self.session = requests.Session()
        self.vm = {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleet-{index}")), "name": f"vm-{index}",
                   "state": "running", "vcpus": 1, "memory_kib": 524288}
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        answer = self._post("/agent/v1/register", {
            "token": token, "name": f"sim-{index:05d}", "hostname": f"sim-{index}",
            "public_key": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), "capabilities": {"simulated": True}},
            auth=False)
        self.agent_id = answer["agent_id"]

    def _headers(self) -> dict[str, str]:
        now = int(time.time())
        token = jwt.encode({"sub": getattr(self, "agent_id", ""), "aud": "fleetvisor-agent-api", "iat": now,
                            "exp": now + 240, "jti": secrets.token_hex(8)}, self.key, algorithm="EdDSA",
                           headers={"typ": "fv-agent+jwt"})
        return {"Authorization": f"Bearer {token}"}

    def _post(self, path: str, body: Any, auth: bool = True, timeout: float = 15) -> Any:
        with self.counters["lock"]:
            self.counters["requests"].value += 1
        answer = self.session.post(self.url + path, json=body, headers=self._headers() if auth else {},
                                   timeout=timeout)
        if answer.status_code >= 400:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
        return answer.json()

    def heartbeats(self) -> None:
        while not self.stop.is_set():
            self._guard(lambda: self._post("/agent/v1/heartbeat", {"vms": [self.vm], "running_jobs": []}))
            self.stop.wait(HEARTBEAT * random.uniform(0.9, 1.1))

    def polls(self) -> None:
        while not self.stop.is_set():
            claimed = self._guard(lambda: self._post(f"/agent/v1/poll?wait={WAIT}", {}, timeout=WAIT + 15))
            for job in (claimed or {}).get("jobs", []):
                self._guard(lambda job=job: self._finish(job))

    def _finish(self, job: dict[str, Any]) -> None:
        self._post(f"/agent/v1/jobs/{job['job_id']}/lease", {"claim_token": job["claim_token"], "running": True})
        self._post(f"/agent/v1/jobs/{job['job_id']}/complete", {
            "claim_token": job["claim_token"], "exit_code": 0, "summary": "simulated", "vm": self.vm})

    def _guard(self, call: Any) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - every failure is counted, the agent carries on
            if self.stop.is_set():
                return None  # the run is over and the stack is going away
            with self.counters["lock"]:
                self.counters["errors"].value += 1
            print(f"fleet: agent error: {exc}", file=sys.stderr, flush=True)
            self.stop.wait(1)
            return None


def run_agents(url: str, token: str, indexes: list[int], shared: tuple[Any, Any, Any]) -> None:
    stop, counters, ready = shared
    agents = []
    for index in indexes:
        agents.append(SimulatedAgent(url, token, index, stop, counters))
    for agent in agents:
        # Heartbeats start spread over one interval, as a fleet's would be after a while.
        threading.Timer(random.uniform(0, HEARTBEAT), agent.heartbeats).start()
        threading.Thread(target=agent.polls, daemon=True).start()
        agent._guard(lambda agent=agent: agent._post(
            "/agent/v1/heartbeat", {"vms": [agent.vm], "running_jobs": []}))
    ready.release()
    stop.wait()
    time.sleep(1)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def operator_load(stack: LocalStack, minutes: float, agent_count: int) -> tuple[list[float], list[float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    agents = [a for a in session.get(f"{stack.url}/api/agents", timeout=30).json()["agents"]]
    claim, done = [], []
    deadline = time.monotonic() + minutes * 60
    while time.monotonic() < deadline:
        agent = random.choice(agents)
        vm = session.get(f"{stack.url}/api/agents/{agent['agent_id']}/vms", timeout=30).json()["vms"][0]
        answer = session.post(f"{stack.url}/api/agents/{agent['agent_id']}/vms/{vm['uuid']}/actions",
                              json={"action": "reboot"}, timeout=30)
        sent_ms = time.time() * 1000
        job_id = answer.json()["job_id"]
        while time.monotonic() < deadline + 60:
            job = session.get(f"{stack.url}/api/jobs/{job_id}", timeout=30).json()
            if job["final"]:
                claim.append(max(0.0, job["claimed_ms"] - sent_ms))
                done.append(job["finished_ms"] - sent_ms)
                break
            time.sleep(0.02)
        time.sleep(2)
    return claim, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.environ.get("FLEETVISOR_BENCH_ROOT") or tmp)
        config = StackConfig(root=root, api_port=free_port(), spa_dir=None, start_agent=False,
                             admin_password="fleet bench password")
        with LocalStack(config) as stack:
            report(stack, args)


def report(stack: LocalStack, args: argparse.Namespace) -> None:
    token = stack.mint_enrollment_token(uses=args.agents)
    stop, ready = multiprocessing.Event(), multiprocessing.Semaphore(0)
    counters: dict[str, Any] = {"requests": multiprocessing.Value("q", 0), "errors": multiprocessing.Value("q", 0),
                                "lock": multiprocessing.Lock()}
    shards = [list(range(i, args.agents, args.processes)) for i in range(args.processes)]
    procs = [multiprocessing.Process(target=run_agents, args=(stack.url, token, shard, (stop, counters, ready)))
             for shard in shards]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    api_pid = stack.children["api"].proc.pid
    cpu_before, requests_before, started = cpu_seconds(api_pid), counters["requests"].value, time.monotonic()
    claim, done = operator_load(stack, args.minutes, args.agents)
    elapsed_min = (time.monotonic() - started) / 60
    cpu = cpu_seconds(api_pid) - cpu_before
    agent_requests = counters["requests"].value - requests_before
    stop.set()
    for proc in procs:
        proc.join(timeout=60)
    print(f"fleet: {args.agents} simulated agents, {elapsed_min:.1f} min, "
          f"heartbeat {HEARTBEAT:.0f} s, poll wait {WAIT} s")
    print(f"  errors                                 {counters['errors'].value}")
    print(f"  jobs dispatched to random agents       {len(claim)}")
    if claim:
        print(f"  API 202 -> claim                       p50 {statistics.median(claim):7.1f} ms   "
              f"p99 {sorted(claim)[int(0.99 * (len(claim) - 1))]:7.1f} ms")
        print(f"  API 202 -> succeeded                   p50 {statistics.median(done):7.1f} ms   "
              f"p99 {sorted(done)[int(0.99 * (len(done) - 1))]:7.1f} ms")
    print(f"  agent requests per agent per minute    {agent_requests / args.agents / elapsed_min:.2f}")
    print(f"  API CPU time per agent per minute      {cpu * 1000 / args.agents / elapsed_min:.2f} ms")


if __name__ == "__main__":
    main()
