"""Dispatch latency through the local stack (dynalite + moto + API + one agent).

200 lifecycle jobs, one after another, on a test-driver host with 50 VMs.
Prints p50/p99 of API 202 → agent claim and API 202 → job succeeded. Times
are wall-clock on one machine: the client's at the 202, the server's at claim
and completion (same clock). The doorbell is rung before the 202 is sent, so
a claim often lands before the client has read its answer.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hosts import many_vms_node  # noqa: E402
from infra.local import LocalStack, StackConfig, free_port  # noqa: E402

JOBS = 200
VMS = 50
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired"}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_jobs(stack: LocalStack) -> dict[str, list[float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    [agent] = session.get(f"{stack.url}/api/agents", timeout=10).json()["agents"]
    base = f"{stack.url}/api/agents/{agent['agent_id']}/vms"
    vms = session.get(base, timeout=10).json()["vms"]
    states = {vm["uuid"]: vm["state"] for vm in vms}
    figures: dict[str, list[float]] = {"API 202 -> agent claim": [], "API 202 -> job succeeded": [],
                                       "job created -> claim (server)": []}
    for i in range(JOBS):
        vm = vms[i % len(vms)]["uuid"]
        action = "suspend" if states[vm] == "running" else "resume"
        answer = session.post(f"{base}/{vm}/actions", json={"action": action}, timeout=10)
        accepted_ms = time.time() * 1000
        answer.raise_for_status()
        job = wait_final(session, stack.url, answer.json()["job_id"])
        if job["status"] != "succeeded":
            raise SystemExit(f"job failed: {job}")
        states[vm] = "paused" if action == "suspend" else "running"
        figures["API 202 -> agent claim"].append(max(0.0, job["claimed_ms"] - accepted_ms))
        figures["API 202 -> job succeeded"].append(job["finished_ms"] - accepted_ms)
        figures["job created -> claim (server)"].append(job["claimed_ms"] - job["created_ms"])
    return figures


def wait_final(session: requests.Session, url: str, job_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = session.get(f"{url}/api/jobs/{job_id}", timeout=10).json()
        if job["status"] in FINAL:
            return dict(job)
        time.sleep(0.005)
    raise SystemExit(f"job {job_id} did not finish")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        uri = many_vms_node(root / "host.xml", VMS)
        config = StackConfig(root=root / "stack", api_port=free_port(), spa_dir=None, libvirt_uri=uri,
                             admin_password="bench admin password", agent_name="bench-host")
        with LocalStack(config) as stack:
            stack.wait_for_agents(1)
            figures = run_jobs(stack)
    print(f"dispatch: {JOBS} jobs, 1 agent, {VMS} VMs (test driver), sequential")
    print("  (a claim that lands before the client has read its 202 counts as 0 ms)")
    for label, values in figures.items():
        print(f"  {label:30s} p50 {percentile(values, 50):7.1f} ms   p99 {percentile(values, 99):7.1f} ms"
              f"   mean {statistics.mean(values):7.1f} ms")


if __name__ == "__main__":
    main()
