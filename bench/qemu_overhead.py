"""What Fleetvisor adds to a VM operation on a real QEMU host: start and
force-stop pairs through libvirt directly, then through the whole chain
(operator API → job → agent → libvirt → completion), on the test guest of
scripts/guest/build.py under libvirtd.

Prints p50/p99 per operation for both, and the difference of the p50s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import libvirt
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.local import LocalStack, StackConfig, free_port  # noqa: E402
from tests.hypervisor.guest import URI, QemuGuest, define_guest, prepare  # noqa: E402

PAIRS = 10


def direct(guest: QemuGuest) -> dict[str, list[float]]:
    conn = libvirt.open(URI)
    domain = conn.lookupByUUIDString(guest.uuid)
    out: dict[str, list[float]] = {"start": [], "force-stop": []}
    for _ in range(PAIRS):
        for label, call in (("start", domain.create), ("force-stop", domain.destroy)):
            began = time.perf_counter()
            call()
            out[label].append((time.perf_counter() - began) * 1000)
    conn.close()
    return out


def through_fleetvisor(stack: LocalStack, guest: QemuGuest) -> dict[str, list[float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login()}"
    [agent] = session.get(f"{stack.url}/api/agents", timeout=10).json()["agents"]
    url = f"{stack.url}/api/agents/{agent['agent_id']}/vms/{guest.uuid}/actions"
    out: dict[str, list[float]] = {"start": [], "force-stop": []}
    for _ in range(PAIRS):
        for action in ("start", "force-stop"):
            began = time.time() * 1000
            job_id = session.post(url, json={"action": action}, timeout=10).json()["job_id"]
            while True:
                job = session.get(f"{stack.url}/api/jobs/{job_id}", timeout=10).json()
                if job["final"]:
                    assert job["status"] == "succeeded", job
                    out[action].append(job["finished_ms"] - began)
                    break
                time.sleep(0.002)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    guest = define_guest(prepare())
    try:
        plain = direct(guest)
        with tempfile.TemporaryDirectory() as tmp:
            config = StackConfig(root=Path(tmp), api_port=free_port(), spa_dir=None, libvirt_uri=URI,
                                 admin_password="bench admin password", agent_name="bench-qemu")
            with LocalStack(config) as stack:
                stack.wait_for_agents(1)
                fleet = through_fleetvisor(stack, guest)
    finally:
        guest.remove()
    print(f"qemu overhead: {PAIRS} start/force-stop pairs on a real QEMU VM (software emulation)")
    for action in ("start", "force-stop"):
        added = statistics.median(fleet[action]) - statistics.median(plain[action])
        print(f"  {action:10s} libvirt p50 {statistics.median(plain[action]):7.1f} ms p99 {pct(plain[action], 99):7.1f}"
              f" | Fleetvisor p50 {statistics.median(fleet[action]):7.1f} ms p99 {pct(fleet[action], 99):7.1f}"
              f" | added p50 {added:6.1f} ms")


if __name__ == "__main__":
    main()
