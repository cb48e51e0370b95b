"""The `fleetvisor` command against a running stack, over HTTP: accounts, keys and tokens, and the
fleet (hosts, VMs, jobs) on the stack's agent, whose libvirt test driver has a VM called `test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import LocalStack
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.e2e
FLEETVISOR = str(Path(sys.executable).parent / "fleetvisor")


def _run(stack: LocalStack, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a script runs it (no terminal); FLEETVISOR_URL names the stack unless `env` says otherwise."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLEETVISOR_")}
    base.update({"FLEETVISOR_URL": stack.url, **env})
    base = {k: v for k, v in base.items() if v}
    return subprocess.run([FLEETVISOR, *args], input=stdin, capture_output=True, text=True, env=base, timeout=60,
                          check=False)


def _admin(stack: LocalStack, *args: str, stdin: str = "") -> Any:
    done = _as_admin(stack, "--json", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _as_admin(stack: LocalStack, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return _run(stack, *args, stdin=stdin, FLEETVISOR_EMAIL=stack.config.admin_email,
                FLEETVISOR_PASSWORD=ADMIN_PASSWORD, **env)


def test_admin_creates_a_user_who_can_log_in_and_is_listed(stack: LocalStack) -> None:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    created = _admin(stack, "create-user", email, "--name", "Grace", "--role", "operator")
    assert created["email"] == email and len(created["password"]) >= 16
    assert stack.login(email, created["password"])
    listed = _admin(stack, "list-users")["users"]
    assert email in [u["email"] for u in listed]
    reset = _admin(stack, "reset-password", email, "--password-stdin", stdin="chosen on stdin 123\n")
    assert "password" not in reset
    assert stack.login(email, "chosen on stdin 123")


def test_api_key_from_the_cli_works_with_its_scope(stack: LocalStack) -> None:
    key = _admin(stack, "create-api-key", "--name", "nightly", "--scope", "read")
    assert key["secret"].startswith("fv_")
    headers = {"Authorization": f"Bearer {key['secret']}"}
    assert requests.get(f"{stack.url}/api/agents", headers=headers, timeout=10).status_code == 200
    done = _run(stack, "create-enrollment-token", FLEETVISOR_API_KEY=key["secret"])
    assert done.returncode == 1 and "insufficient_scope" in done.stderr


def test_enrollment_token_comes_with_its_install_command(stack: LocalStack) -> None:
    token = _admin(stack, "create-enrollment-token", "--uses", "3", "--note", "rack 4")
    assert token["token"].startswith("fvet_") and token["uses_left"] == 3
    assert token["install_command"].endswith(f"--token {token['token']}")


def test_wrong_password_fails_cleanly(stack: LocalStack) -> None:
    done = _run(stack, "list-users", FLEETVISOR_EMAIL=stack.config.admin_email, FLEETVISOR_PASSWORD="not the one!!")
    assert done.returncode == 1 and "invalid_credentials" in done.stderr and "Traceback" not in done.stderr


# -- the fleet: hosts, VMs, jobs -----------------------------------------------------------------------

def _ok(stack: LocalStack, *args: str, **env: str) -> str:
    done = _as_admin(stack, *args, **env)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _vm_state(stack: LocalStack) -> str:
    return str(_admin(stack, "vms", "show", "test")["state"])


def test_hosts_list_is_a_table_for_people_and_json_for_scripts(stack: LocalStack) -> None:
    header, *rows = _ok(stack, "hosts", "list").splitlines()
    assert header.split()[:3] == ["NAME", "ID", "STATUS"]
    assert any(row.split()[0] == "e2e-host" and row.split()[2] == "online" for row in rows), rows
    [host] = [h for h in _admin(stack, "hosts", "list") if h["name"] == "e2e-host"]
    shown = _ok(stack, "hosts", "show", "e2e-host")
    assert host["agent_id"] in shown and "status" in shown
    assert _admin(stack, "hosts", "show", host["agent_id"])["name"] == "e2e-host"


def test_vms_list_shows_the_fleet_with_hosts_and_searches_it(stack: LocalStack) -> None:
    table = _ok(stack, "vms", "list")
    assert table.splitlines()[0].split()[:3] == ["NAME", "HOST", "STATE"]
    assert any(line.split()[:2] == ["test", "e2e-host"] for line in table.splitlines()[1:]), table
    found = _admin(stack, "vms", "list", "--search", "E2E-HOST")  # --json after the command works too
    assert [(vm["name"], vm["host_name"]) for vm in found] == [("test", "e2e-host")]
    assert _admin(stack, "vms", "list", "--search", "no-such-thing-anywhere") == []


def test_a_power_action_waited_to_completion_and_jobs_wait(stack: LocalStack) -> None:
    assert _vm_state(stack) == "running"
    out = _ok(stack, "vms", "suspend", "test", "--wait")
    assert "now paused" in out and _vm_state(stack) == "paused"
    job = _admin(stack, "vms", "resume", "test")  # queued, not waited for
    assert job["status"] in ("queued", "claimed", "running", "succeeded") and job["op"] == "vm.resume"
    waited = _admin(stack, "jobs", "wait", job["job_id"], "--timeout", "60")
    assert (waited["job_id"], waited["status"]) == (job["job_id"], "succeeded")
    assert _vm_state(stack) == "running"
    listed = _ok(stack, "jobs", "list", "--host", "e2e-host")
    assert job["job_id"] in listed
    assert _admin(stack, "jobs", "show", job["job_id"])["op"] == "vm.resume"


def test_a_job_that_fails_exits_3_with_its_summary(stack: LocalStack) -> None:
    done = _as_admin(stack, "vms", "start", "test", "--wait")  # it is running already
    assert done.returncode == 3 and "failed" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_vm_is_a_clear_error_with_a_nonzero_exit(stack: LocalStack) -> None:
    done = _as_admin(stack, "vms", "start", "no-such-vm")
    assert done.returncode == 1 and "no VM named 'no-such-vm'" in done.stderr and not done.stdout
    done = _as_admin(stack, "vms", "reboot", "no-such-vm", "--host", "e2e-host")
    assert done.returncode == 1 and "404 vm_not_found: No VM 'no-such-vm' on this host." in done.stderr
    done = _as_admin(stack, "vms", "show", "bad name!", "--host", "e2e-host")
    assert done.returncode == 1 and "invalid_vm_name" in done.stderr
    done = _as_admin(stack, "jobs", "wait", "job_" + "0" * 32)
    assert done.returncode == 1 and "job_not_found" in done.stderr


def test_destructive_actions_need_yes_without_a_terminal(stack: LocalStack) -> None:
    before = _admin(stack, "jobs", "list", "--limit", "100")
    done = _as_admin(stack, "vms", "force-stop", "test")
    assert done.returncode == 1 and "--yes" in done.stderr
    assert _admin(stack, "jobs", "list", "--limit", "100") == before and _vm_state(stack) == "running"


def _on_a_terminal(stack: LocalStack, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with its standard input on a terminal (a pty) that types `answer`."""
    ours, theirs = os.openpty()
    os.write(ours, answer.encode() + b"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETVISOR_")}
    env.update({"FLEETVISOR_URL": stack.url, "FLEETVISOR_EMAIL": stack.config.admin_email,
                "FLEETVISOR_PASSWORD": ADMIN_PASSWORD})
    try:
        return subprocess.run([FLEETVISOR, *args], stdin=theirs, capture_output=True, text=True, env=env,
                              timeout=60, check=False)
    finally:
        os.close(ours)
        os.close(theirs)


def test_a_destructive_action_asks_on_a_terminal_and_a_no_does_nothing(stack: LocalStack) -> None:
    before = _admin(stack, "jobs", "list", "--limit", "100")
    refused = _on_a_terminal(stack, "n", "vms", "reset", "test")
    assert refused.returncode == 1 and "reset VM 'test' on e2e-host?" in refused.stdout, refused
    assert "not confirmed; nothing done" in refused.stderr
    assert _admin(stack, "jobs", "list", "--limit", "100") == before
    done = _on_a_terminal(stack, "y", "vms", "reset", "test", "--wait")
    assert done.returncode == 0 and "reset test: vm.reset" in done.stdout, done
    assert _vm_state(stack) == "running"


def test_snapshots_and_labels(stack: LocalStack) -> None:
    _ok(stack, "vms", "snapshot", "create", "test", "cli-snap", "--description", "from the CLI", "--wait")
    snapshots = _admin(stack, "vms", "snapshot", "list", "test")
    assert [s["description"] for s in snapshots if s["name"] == "cli-snap"] == ["from the CLI"]
    _ok(stack, "vms", "snapshot", "delete", "test", "cli-snap", "--yes", "--wait")
    assert "cli-snap" not in _ok(stack, "vms", "snapshot", "list", "test")
    assert _admin(stack, "vms", "label", "test", "tier=web", "team=blue") == {"tier": "web", "team": "blue"}
    assert [vm["name"] for vm in _admin(stack, "vms", "list", "--label", "tier=web")] == ["test"]
    assert _admin(stack, "vms", "label", "test", "--remove", "tier") == {"team": "blue"}
    assert _ok(stack, "vms", "label", "test", "--clear").strip() == "no labels"


def test_the_cli_finds_the_local_stack_and_an_explicit_url_wins(stack: LocalStack) -> None:
    found = _as_admin(stack, "--json", "hosts", "list", FLEETVISOR_URL="", FLEETVISOR_HOME=str(stack.root))
    assert found.returncode == 0, found.stderr
    assert "e2e-host" in [h["name"] for h in json.loads(found.stdout)]
    elsewhere = _as_admin(stack, "hosts", "list", FLEETVISOR_URL="http://127.0.0.1:9", FLEETVISOR_HOME=str(stack.root))
    assert elsewhere.returncode == 1 and "cannot reach http://127.0.0.1:9" in elsewhere.stderr
