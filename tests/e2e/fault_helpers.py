"""What the fault tests do to the fault stack: act as its operator, find and restart its agent, read its log."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from infra.local import LocalStack
from tests.agent.conftest import NODE_XML, STUBBORN_XML
from tests.conftest import read_logs, wait_until

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired"}
HOST = "fault-host"


class Operator:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.login()}"
        [agent] = [a for a in self.get("/api/agents")["agents"] if a["name"] == HOST]
        self.agent_id = agent["agent_id"]

    def get(self, path: str) -> Any:
        return self.session.get(self.stack.url + path, timeout=10).json()

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/jobs/{job_id}"))

    def act(self, action: str, vm: str = "test", **extra: Any) -> str:
        answer = self.session.post(f"{self.stack.url}/api/agents/{self.agent_id}/vms/{vm}/actions",
                                   json={"action": action, **extra}, timeout=10)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["job_id"])

    def wait_final(self, job_id: str, timeout: float = 45) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in FINAL:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} not final: {self.job(job_id)}\n{read_logs(self.stack)}")

    def reboot(self) -> dict[str, Any]:
        """A reboot, as it ended. It applies in every run of the test driver (whose VM
        state lives in each agent process, and starts afresh when one restarts)."""
        return self.wait_final(self.act("reboot"))

    def result(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job's result document, through the API (which checks it is what the agent uploaded)."""
        answer = self.session.get(f"{self.stack.url}/api/jobs/{job['job_id']}/result", timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def agent_child(stack: LocalStack) -> str:
    return next(name for name in stack.children if name.startswith("agent-"))


def restart_agent(stack: LocalStack, **extra: Any) -> None:
    """Stop the fault host's agent (if one runs) and start it again with the same identity."""
    for name in [n for n in stack.children if n.startswith("agent-")]:
        stack.stop_child(name)
    stack.start_agent(HOST, stack.config.libvirt_uri, None, stack.root / "agent", **extra)


def agent_log(stack: LocalStack) -> str:
    return Path(stack.root / "logs" / f"{agent_child(stack)}.log").read_text()


def attempts_run(stack: LocalStack, job_id: str) -> list[int]:
    """The attempts of this job the agent accepted and started, from its log."""
    return [int(n) for n in re.findall(rf"job accepted job_id={job_id} attempt=(\d+)", agent_log(stack))]


def vm_listed(op: Operator, name: str) -> bool:
    return any(vm["name"] == name for vm in op.get(f"/api/agents/{op.agent_id}/vms")["vms"])


@contextlib.contextmanager
def stubborn_host(stack: LocalStack, node_file: Path, extra_env: dict[str, str] | None = None) -> Iterator[Operator]:
    """The fault host's agent restarted on a test-driver node whose one VM, `stubborn1`, ignores ACPI
    (the test driver restarts it at once): a shutdown with `timeout_seconds` then waits that long before
    it forces the VM off, which makes a job that runs for as long as a test needs. Afterwards the agent
    is back on its own node."""
    node_file.write_text(NODE_XML.format(domains=STUBBORN_XML, pool=""))
    op = Operator(stack)
    stack.config.libvirt_uri, default_uri = f"test://{node_file}", stack.config.libvirt_uri
    try:
        restart_agent(stack, extra_env=extra_env)
        wait_until(lambda: vm_listed(op, "stubborn1"), timeout=20, what="stubborn1 in the inventory")
        yield op
    finally:
        stack.config.libvirt_uri = default_uri
        restart_agent(stack)
        wait_until(lambda: vm_listed(op, "test"), timeout=20, what="the test VM back in the inventory")
