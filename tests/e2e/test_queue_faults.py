"""Faults on the path agents wait on now: the host's own SQS queue (agent/fleetvisor_agent/waiting.py).

A stack of its own, with the doorbell role (so its agents wait on their queues, as on AWS) and the agent's
SQS traffic through an HTTP-aware fault proxy: the API hands the proxy's address to agents as the SQS
endpoint (FLEETVISOR_SQS_PUBLIC_ENDPOINT), while the API itself rings the queues in moto directly.
Heartbeats come every 2 s, so a ring that is lost is rung again within seconds (dispatch.ring_again).
Every test starts with the agent waiting on its queue and the proxy passing, and heals what it broke.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local import REPO, LocalStack, StackConfig, free_port
from tests.agent.conftest import STUBBORN1
from tests.conftest import ADMIN_PASSWORD, wait_until

from .fault_helpers import HOST, Operator, agent_log, stubborn_host
from .tcp_proxy import TcpProxy

HEARTBEAT_SECONDS = 2
RING_AGAIN_SECONDS = 5  # dispatch.ring_again: a job queued this long is rung again at a heartbeat
READ_TIMEOUT = 20 + 10  # the API's wait_seconds + the agent's READ_SLACK: a receive SQS never answers
PING_AFTER_SECONDS = 1  # this stack asks a host unheard for a second (30 s by default)
PING_ANSWER_SECONDS = 3
ON_QUEUE = "waiting on this host's own queue"
IN_API = "waiting in the API"

# A job written as the API writes it, whose ring is lost: its SendMessage goes to a queue that does not
# exist, so doorbell.ring logs and gives up, as when SQS refuses it. Run in the stack's environment.
CREATE_WITHOUT_RING = """
import sys
from chalicelib.agents.models import Agent
from chalicelib.jobs import logic
agent = Agent.get(sys.argv[1])
agent.queue_url = agent.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
job, _ = logic.create(agent, "vm.reboot", {"vm_uuid": sys.argv[2]}, vm_uuid=sys.argv[2])
print(job.job_id)
"""


@pytest.fixture(scope="module")
def sqs_proxy() -> Iterator[TcpProxy]:
    made = TcpProxy(http=True)
    yield made
    made.close()


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory, sqs_proxy: TcpProxy) -> Iterator[LocalStack]:
    config = StackConfig(root=tmp_path_factory.mktemp("queue-faults"), api_port=free_port(), spa_dir=None,
                         admin_password=ADMIN_PASSWORD, agent_name=HOST,
                         agent_env={"FLEETVISOR_AGENT_POLL_WAIT": "5",
                                    "FLEETVISOR_AGENT_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)},
                         extra_api_env={"FLEETVISOR_SQS_PUBLIC_ENDPOINT": sqs_proxy.url,
                                        "FLEETVISOR_PING_AFTER_SECONDS": str(PING_AFTER_SECONDS),
                                        "FLEETVISOR_PING_ANSWER_SECONDS": str(PING_ANSWER_SECONDS)})
    stack = LocalStack(config)
    sqs_proxy.upstream_port = stack.moto_port
    with stack:
        stack.wait_for_agents(1)
        yield stack


@pytest.fixture
def op(queued: LocalStack, sqs_proxy: TcpProxy) -> Iterator[Operator]:
    sqs_proxy.passing()
    wait_until(lambda: on_its_queue(agent_log(queued)), timeout=40, what="the agent waiting on its own queue")
    yield Operator(queued)
    sqs_proxy.passing()
    sqs_proxy.expire_tokens(0)


def on_its_queue(log: str) -> bool:
    return log.rfind(ON_QUEUE) > log.rfind(IN_API)


def succeeded(job: dict[str, object]) -> bool:
    return job["status"] == "succeeded" and job["exit_code"] == 0 and job["attempt"] == 1


def test_a_lost_doorbell_is_rung_again_at_a_heartbeat_and_the_job_is_claimed(queued: LocalStack,
                                                                                 op: Operator) -> None:
    [vm] = [vm for vm in op.get(f"/api/agents/{op.agent_id}/vms")["vms"] if vm["name"] == "test"]
    made = subprocess.run([sys.executable, "-c", CREATE_WITHOUT_RING, op.agent_id, vm["uuid"]],
                          env=queued.service_env(), cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    job_id = made.stdout.split()[-1]
    assert f"doorbell for {job_id} not rung" in made.stderr

    job = op.wait_final(job_id, timeout=30)

    assert succeeded(job), job
    # Nothing rang, so the agent heard of it only when a heartbeat rang again: after 5 s, within one more beat.
    waited = (job["claimed_ms"] - job["created_ms"]) / 1000
    assert RING_AGAIN_SECONDS - 0.5 <= waited <= RING_AGAIN_SECONDS + HEARTBEAT_SECONDS + 3, waited
    assert on_its_queue(agent_log(queued))


def test_credentials_expired_mid_wait_are_asked_for_again_and_no_ring_is_lost(queued: LocalStack, sqs_proxy: TcpProxy,
                                                                                op: Operator) -> None:
    grants = agent_log(queued).count(ON_QUEUE)
    # The wait in flight brings the job's ring; the delete after it and the next receive are refused.
    sqs_proxy.expire_tokens(2)

    job = op.reboot()

    assert succeeded(job), job
    assert job["claimed_ms"] - job["created_ms"] < 3000  # claimed from the ring read, not a heartbeat's
    assert sqs_proxy.refused == ["POST /", "POST /"]
    log = wait_until(lambda: (text := agent_log(queued)).count(ON_QUEUE) >= grants + 2 and on_its_queue(text) and text,
                     timeout=10, what="new credentials, twice")
    assert "asking for the queue again: 400 ExpiredTokenException" in log
    assert succeeded(op.reboot())


def test_sqs_unreachable_the_agent_waits_in_the_api_then_returns_to_its_queue(queued: LocalStack, sqs_proxy: TcpProxy,
                                                                              op: Operator) -> None:
    fallbacks = agent_log(queued).count(IN_API)
    sqs_proxy.stall()
    started = time.monotonic()

    job = op.reboot()

    # The receive in flight times out (wait + slack); the agent waits in the API, whose poll claims the job.
    assert succeeded(job), job
    assert time.monotonic() - started <= READ_TIMEOUT + 8
    log = agent_log(queued)
    assert log.count(IN_API) > fallbacks
    assert re.search(r"waiting in the API for \d+ s instead of on this host's queue: 0 unreachable", log)

    sqs_proxy.passing()
    wait_until(lambda: on_its_queue(agent_log(queued)), timeout=15, what="the agent back on its own queue")
    asked = len(sqs_proxy.requests)
    job = op.reboot()
    assert succeeded(job), job
    assert job["claimed_ms"] - job["created_ms"] < 3000
    assert len(sqs_proxy.requests) > asked  # through the proxy: it waits on its queue again


def test_a_deregistered_host_s_agent_stops_when_its_queue_is_gone(queued: LocalStack, op: Operator) -> None:
    # A second host whose heartbeats are too rare to matter: only its wait on the queue can notice.
    child = queued.start_agent("gone-host", queued.config.libvirt_uri, queued.mint_enrollment_token(),
                               Path(queued.root / "gone-agent"),
                               extra_env={"FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "3600"})
    log_file = queued.root / "logs" / f"{child.name}.log"
    try:
        wait_until(lambda: ON_QUEUE in log_file.read_text(), timeout=30, what="gone-host waiting on its queue")
        [gone] = [a for a in op.get("/api/agents")["agents"] if a["name"] == "gone-host"]
        answer = op.session.delete(f"{queued.url}/api/agents/{gone['agent_id']}", timeout=10)
        assert answer.status_code == 200, answer.text
        deleted = time.monotonic()

        assert child.proc.wait(timeout=40) == 3  # runner.EXIT_UNAUTHORIZED: enrol the host again
        took = time.monotonic() - deleted
        log = log_file.read_text()
        assert re.search(r"asking for the queue again: 400 (AWS\.SimpleQueueService\.NonExistent|QueueDoesNotExist)",
                         log), log
        assert "this host was deregistered by its owner (agent_revoked)" in log
        assert took <= 20 + 5, took
    finally:
        queued.stop_child(child.name)
    assert succeeded(op.reboot())  # the other host is untouched


def test_a_watched_host_answers_a_ping_at_once_and_a_dead_one_shows_stale(queued: LocalStack, op: Operator) -> None:
    # A host that beats once an hour: only the page's ping, through its queue, can get a sign of life out of it.
    child = queued.start_agent("watched-host", queued.config.libvirt_uri, queued.mint_enrollment_token(),
                               Path(queued.root / "watched-agent"),
                               extra_env={"FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "3600"})
    log_file = queued.root / "logs" / f"{child.name}.log"

    def watched() -> dict[str, Any]:
        [host] = [a for a in op.get("/api/agents")["agents"] if a["name"] == "watched-host"]
        return dict(host)

    try:
        wait_until(lambda: ON_QUEUE in log_file.read_text(), timeout=30, what="watched-host waiting on its queue")
        seen_ms = watched()["last_seen_ms"]
        time.sleep(PING_AFTER_SECONDS + 0.2)
        pinged = time.monotonic()
        assert op.session.post(f"{queued.url}/api/agents/ping", timeout=10).json()["pinged"] >= 1
        wait_until(lambda: watched()["last_seen_ms"] > seen_ms, timeout=5, what="the ping answered by a heartbeat")
        assert time.monotonic() - pinged < 2
        assert watched()["status"] == "online"
        stopping = time.monotonic()
        queued.stop_child(child.name)  # SIGTERM, as systemd stops it
        # It was in its 20 s receive: a stopping agent leaves it at once (waiting.py).
        assert (child.proc.returncode, time.monotonic() - stopping < 2) == (0, True)
    finally:
        queued.stop_child(child.name)

    time.sleep(PING_AFTER_SECONDS + 0.2)
    op.session.post(f"{queued.url}/api/agents/ping", timeout=10)
    assert watched()["status"] == "online"  # asked just now
    time.sleep(PING_ANSWER_SECONDS + 0.5)
    assert watched()["status"] == "stale"  # nobody answered: the page shows it, minutes before a beat is due


def test_a_cancel_reaches_a_running_job_through_the_queue_within_three_seconds(queued: LocalStack, op: Operator,
                                                                               tmp_path: Path) -> None:
    # Beats an hour apart: only the ring can bring the cancel (a lease renewal is 40 s away too).
    with stubborn_host(queued, tmp_path / "stubborn.xml", extra_env={"FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "3600"}) \
            as stubborn:
        wait_until(lambda: on_its_queue(agent_log(queued)), timeout=40, what="the agent back on its queue")
        job_id = stubborn.act("shutdown", vm=STUBBORN1, timeout_seconds=60)  # waits 60 s for a VM that ignores it
        wait_until(lambda: stubborn.job(job_id)["status"] == "running", timeout=10, what="the shutdown running")
        asked = time.monotonic()
        answer = stubborn.session.post(f"{queued.url}/api/jobs/{job_id}/cancel", timeout=10)
        assert answer.status_code == 200, answer.text

        job = stubborn.wait_final(job_id, timeout=10)
        took = time.monotonic() - asked

    assert (job["status"], job["summary"]) == ("cancelled", "cancelled by the operator"), job
    assert took < 3, took  # the cancel's ring on the queue, not the lease's next renewal
