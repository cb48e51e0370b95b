"""Faults made for real, with nothing lost: processes are killed with
SIGKILL or frozen with SIGSTOP, the API process is restarted, a second
poller shares one identity, and an agent's clock is 20 minutes off.

These run on the fault stack (conftest.py): leases of 6 s, a sweeper every
second, the agent behind fault proxies that pass everything here.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from infra.local import LocalStack
from tests.conftest import read_logs, wait_until

from .conftest import FAULT_LEASE_SECONDS, Proxies
from .fault_helpers import Operator, agent_child, restart_agent

pytestmark = pytest.mark.e2e


def test_api_restarted_during_long_polls(faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    agent = faulty.children[agent_child(faulty)].proc
    wait_until(lambda: proxies.api.waiting_for_answer(longer_than=0.3), what="a long poll in flight")
    faulty.stop_child("api", signal.SIGKILL)
    time.sleep(2)
    faulty.start_api()
    job = op.reboot()
    assert (job["status"], job["attempt"]) == ("succeeded", 1), job
    assert agent.poll() is None  # the same agent process: it rode out the restart by itself


def test_agent_killed_after_its_claim_loses_nothing(faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    # Frozen between two polls (say, backing off after the API restart above) it would claim nothing.
    wait_until(lambda: proxies.api.waiting_for_answer(longer_than=0.3), what="a long poll in flight")
    name = agent_child(faulty)
    agent = faulty.children[name].proc
    agent.send_signal(signal.SIGSTOP)  # frozen inside its long poll: the claim lands, nobody runs it
    try:
        job_id = op.act("reboot")
        wait_until(lambda: op.job(job_id)["status"] != "queued", what="the claim")
        claimed_at = time.monotonic()
        assert op.job(job_id)["status"] == "claimed"
        wait_until(lambda: op.job(job_id)["status"] == "queued", timeout=FAULT_LEASE_SECONDS + 5,
                   what="the unacknowledged claim to lapse")
        lapsed_after = time.monotonic() - claimed_at
    finally:
        faulty.stop_child(name, signal.SIGKILL)
    restart_agent(faulty)
    job = op.wait_final(job_id)
    assert (job["status"], job["attempt"]) == ("succeeded", 2), job
    # Never acknowledged by a lease call, the claim lapsed after the claim-ack window, not after a lease.
    assert lapsed_after < FAULT_LEASE_SECONDS, lapsed_after
    assert len(op.get("/api/agents")["agents"]) == 1  # the restart did not enrol again


def test_two_pollers_with_one_identity_claim_each_job_once(faulty: LocalStack, tmp_path: Path) -> None:
    op = Operator(faulty)
    twin_dir = tmp_path / "twin"
    shutil.copytree(faulty.root / "agent", twin_dir)
    twin = faulty.start_agent("fault-host", faulty.config.libvirt_uri, None, twin_dir, child_name="agent-twin")
    try:
        wait_until(lambda: "agent running" in _log(faulty, "agent-twin"), what="the twin running")
        jobs = [op.reboot() for _ in range(6)]
        assert twin.proc.poll() is None, "the twin kept polling all along"
    finally:
        faulty.stop_child("agent-twin")
    assert [(j["status"], j["attempt"]) for j in jobs] == [("succeeded", 1)] * 6
    # Whichever of the two claimed a job, it alone ran it: each job was accepted once in both logs together.
    both = _log(faulty, agent_child(faulty)) + _log(faulty, "agent-twin")
    assert [both.count(f"job accepted job_id={j['job_id']} ") for j in jobs] == [1] * 6


def test_agent_clock_twenty_minutes_off_still_works(faulty: LocalStack) -> None:
    op = Operator(faulty)
    for offset in ("-20m", "+20m"):
        restart_agent(faulty, wrapper=["faketime", "-f", f"{offset} x1"], child_name=f"agent-skewed{offset}")
        job = op.reboot()
        assert job["status"] == "succeeded", (offset, job, read_logs(faulty))
    restart_agent(faulty)


def test_fleet_registration_key_works_only_once_configured(faulty: LocalStack) -> None:
    """Off by default; with its SHA-256 and an owner configured, it enrols hosts for that owner and is not spent."""
    fleet_key = "fvfleet_" + "k" * 30
    op = Operator(faulty)

    def register(name: str) -> int:
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return requests.post(f"{faulty.url}/agent/v1/register", timeout=10, json={
            "token": fleet_key, "name": name,
            "public_key": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}).status_code

    assert register("fleet-a") == 403
    owner = op.session.get(f"{faulty.url}/api/me", timeout=10).json()["user_id"]
    faulty.config.extra_api_env.update({"FLEETVISOR_FLEET_KEY_SHA256": hashlib.sha256(fleet_key.encode()).hexdigest(),
                                        "FLEETVISOR_FLEET_OWNER": owner})
    try:
        faulty.stop_child("api")
        faulty.start_api()
        assert [register("fleet-a"), register("fleet-b")] == [200, 200]
    finally:
        for name in ("FLEETVISOR_FLEET_KEY_SHA256", "FLEETVISOR_FLEET_OWNER"):
            faulty.config.extra_api_env.pop(name)
        faulty.stop_child("api")
        faulty.start_api()
    names = {a["name"] for a in Operator(faulty).get("/api/agents")["agents"]}
    assert {"fleet-a", "fleet-b"} <= names


def _log(stack: LocalStack, child: str) -> str:
    return (stack.root / "logs" / f"{child}.log").read_text()
