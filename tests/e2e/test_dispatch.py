"""End to end over real HTTP: dynalite + moto's server + the API server + an
agent process on libvirt's test driver. An operator's action ends with the
VM in its new state, as the agent reports it through the API."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from infra.local import LocalStack
from tests.conftest import read_logs, wait_until

pytestmark = pytest.mark.e2e
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired"}


class Operator:
    def __init__(self, stack: LocalStack) -> None:
        self.url = stack.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.login()}"

    def get(self, path: str) -> Any:
        answer = self.session.get(self.url + path, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=10)


def _wait_final(op: Operator, accepted: dict, stack: LocalStack, timeout: float = 30) -> tuple[dict, list[str]]:
    """The job once final, and every status seen from the 202 answer on."""
    job_id = accepted["job_id"]
    seen: list[str] = [accepted["status"]]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = op.get(f"/api/jobs/{job_id}")
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in FINAL:
            return job, seen
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} not final after {timeout} s (seen {seen})\n{read_logs(stack)}")


def _host_and_vm(op: Operator) -> tuple[str, dict]:
    [agent] = op.get("/api/agents")["agents"]
    [vm] = op.get(f"/api/agents/{agent['agent_id']}/vms")["vms"]
    return agent["agent_id"], vm


def test_host_is_online_with_its_capabilities_and_vm(stack: LocalStack) -> None:
    op = Operator(stack)
    [agent] = op.get("/api/agents")["agents"]
    assert (agent["name"], agent["status"]) == ("e2e-host", "online")
    assert agent["capabilities"]  # what the agent reported about its hypervisor
    _, vm = _host_and_vm(op)
    assert (vm["name"], vm["state"]) == ("test", "running")


def test_shutdown_then_start_reaches_the_vm_and_comes_back(stack: LocalStack) -> None:
    op = Operator(stack)
    agent_id, vm = _host_and_vm(op)
    for action, state in (("shutdown", "shutoff"), ("start", "running")):
        answer = op.post(f"/api/agents/{agent_id}/vms/{vm['uuid']}/actions", {"action": action})
        assert answer.status_code == 202, answer.text
        job, seen = _wait_final(op, answer.json(), stack)
        assert job["status"] == "succeeded", (job, read_logs(stack))
        assert seen[0] == "queued" and seen[-1] == "succeeded"
        assert (job["attempt"], job["exit_code"]) == (1, 0)
        result = requests.get(job["result"]["url"], timeout=10).json()
        assert (result["ok"], result["vm"]["state"]) == (True, state)
        # The finished job wrote the VM's new state to the inventory at once.
        assert op.get(f"/api/agents/{agent_id}/vms/{vm['name']}")["state"] == state


def test_refusals_over_http_keep_the_error_shape_and_queue_nothing(stack: LocalStack) -> None:
    op = Operator(stack)
    agent_id, vm = _host_and_vm(op)
    before = op.get("/api/jobs?limit=100")["jobs"]
    cases = [
        (op.post(f"/api/agents/{agent_id}/vms/{vm['uuid']}/actions", {"action": "explode"}), 400, "invalid_action"),
        (op.post(f"/api/agents/{agent_id}/vms/no-such-vm/actions", {"action": "start"}), 404, "vm_not_found"),
        (op.post(f"/api/agents/{agent_id}/vms/..%2F..%2Fetc%2Fpasswd/actions", {"action": "start"}), 400,
         "invalid_vm_name"),
        (op.post(f"/api/agents/ag_nope/vms/{vm['uuid']}/actions", {"action": "start"}), 404, "agent_not_found"),
        (requests.post(f"{stack.url}/api/agents/{agent_id}/vms/test/actions", json={"action": "start"}, timeout=10),
         401, "unauthorized"),
        (op.session.get(f"{stack.url}/api/no/such/route", timeout=10), 404, "route_not_found"),
        (op.session.post(f"{stack.url}/api/auth/login", data=b"x" * (300 * 1024), timeout=10),
         413, "payload_too_large"),
        # http.server's own refusals keep the shape too (issue 18), as does a key of no form.
        (requests.request("TRACE", f"{stack.url}/api/agents", timeout=10), 405, "method_not_allowed"),
        (requests.request("PROPFIND", f"{stack.url}/agent/v1/heartbeat", timeout=10), 405, "method_not_allowed"),
        (requests.get(f"{stack.url}/api/agents", headers={"Authorization": "Bearer fv_"}, timeout=10),
         401, "unauthorized"),
        (op.session.get(f"{stack.url}/api/users/email%23{stack.config.admin_email}", timeout=10), 404,
         "user_not_found"),
    ]
    for answer, status, code in cases:
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
        assert answer.json()["error"]["message"]
    assert op.get("/api/jobs?limit=100")["jobs"] == before


def test_web_app_is_served_from_the_same_origin(stack: LocalStack) -> None:
    index = requests.get(stack.url + "/", timeout=10)
    assert index.status_code == 200 and "text/html" in index.headers["Content-Type"]
    deep = requests.get(stack.url + "/hosts/some-client-side-route", timeout=10)
    assert deep.status_code == 200 and deep.text == index.text
    assert requests.get(stack.url + "/api/health", timeout=10).json() == {"status": "ok"}


def test_the_agent_waits_on_its_own_queue_and_a_job_still_reaches_it_within_a_second(stack: LocalStack) -> None:
    """No Lambda held for an idle host: the agent long-polls its SQS queue (moto's here) with the
    credentials the API handed it, and calls the API only to claim what was rung."""
    log_file = stack.root / "logs" / "agent-e2e-host.log"
    wait_until(lambda: "waiting on this host's own queue" in log_file.read_text(), timeout=10,
               what="the agent waiting on its own queue")
    assert "waiting in the API" not in log_file.read_text()
    op = Operator(stack)
    agent_id, vm = _host_and_vm(op)
    delays = []
    for _ in range(3):
        started = time.monotonic()
        answer = op.post(f"/api/agents/{agent_id}/vms/{vm['uuid']}/actions", {"action": "reboot"})
        assert answer.status_code == 202, answer.text
        job, seen = _wait_final(op, answer.json(), stack)
        assert job["status"] == "succeeded", (job, seen)
        delays.append(time.monotonic() - started)
    assert min(delays) < 1.5, delays  # 202 → claimed → rebooted → succeeded, through the queue
    # The host says where it waits (a host still waiting in the API costs Lambda time: the page shows it).
    def waiting_on() -> str:
        [host] = [a for a in op.get("/api/agents")["agents"] if a["agent_id"] == agent_id]
        return str(host["capabilities"].get("waiting_on"))

    wait_until(lambda: waiting_on() == "queue", timeout=5, what="the host saying it waits on its queue")
