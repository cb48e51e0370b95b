"""The `fleetvisor` command against a running stack, over HTTP: accounts, keys and tokens, the
fleet (hosts, VMs, jobs) on the stack's agent, whose libvirt test driver has a VM called `test`,
and deployments (manifests, SSH keys, deploy) on it."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key

from infra.local import LocalStack
from tests.conftest import ADMIN_PASSWORD
from tests.e2e.test_deployments import Host

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


# -- deployments: manifests, SSH keys, deploy ------------------------------------------------------------

def _profile(manifest_id: str) -> str:
    """A cloud-init profile of our own whose image the stack's agent refuses at once (a loopback URL, not
    in its allowed sources): a deployment is queued, claimed and fails fast, downloading nothing."""
    return f"""kind: profile
id: {manifest_id}
version: 1
title: CLI test profile
description: Deploys nothing real; its image is on a loopback address.
image: {{url: "http://127.0.0.1:9/cli-test.img", sha256: "{'ab' * 32}", format: qcow2, max_bytes: 1048576}}
disk_mode: overlay
name_input: hostname
machine: {{firmware: bios, secure_boot: false, tpm: false, machine: q35, disk_bus: virtio, nic_model: virtio}}
sizing:
  vcpus: {{default: 1, min: 1, max: 4}}
  memory_mib: {{default: 512, min: 256, max: 4096}}
  disk_gib: {{default: 10, min: 1, max: 20}}
first_boot: {{kind: cloud-init, timeout_seconds: 60, installers: true}}
inputs:
  - {{name: hostname, type: hostname, required: true, max_length: 63}}
  - {{name: username, type: string, required: true, default: tester, label: First user}}
  - {{name: ssh_keys, type: ssh-key, multiple: true, required: true}}
  - {{name: replicas, type: integer, min: 1, max: 3, default: 1}}
  - {{name: debug, type: boolean, default: false}}
"""


def _public_key(comment: str) -> str:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return f"{key} {comment}"


def test_manifests_upload_list_show_and_delete(stack: LocalStack, tmp_path: Path) -> None:
    manifest_id = f"cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "profile.yaml").write_text(_profile(manifest_id))
    out = _ok(stack, "manifests", "upload", str(tmp_path / "profile.yaml"))
    assert out.strip() == f"uploaded profile {manifest_id} version 1: CLI test profile (fleetvisor deploy HOST " \
                          f"{manifest_id})"
    assert [line.split()[:2] for line in _ok(stack, "manifests", "list").splitlines()
            if line.startswith(manifest_id)] == [[manifest_id, "profile"]]
    listed = {line.split()[0]: line.split()[2] for line in _ok(stack, "profiles").splitlines()[1:]}
    assert (listed[manifest_id], listed["ubuntu-24.04"]) == ("own", "builtin")
    shown = _ok(stack, "profiles", "show", manifest_id)
    assert "vcpus 1 (1..4), memory 512 MiB (256..4096), disk 10 GiB (1..20)" in shown
    assert [line.split()[:4] for line in shown.splitlines() if line.startswith("replicas")] == [
        ["replicas", "integer", "no", "1"]]
    assert shown.rstrip().endswith("--- manifest as uploaded ---\n" + _profile(manifest_id).rstrip())
    builtin = _ok(stack, "installers", "show", "nginx")
    assert [line.split()[:4] for line in builtin.splitlines() if line.startswith("port")] == [
        ["port", "port", "no", "80"]]
    assert "source       builtin" in builtin and "manifest as uploaded" not in builtin
    assert _admin(stack, "manifests", "show", manifest_id)["text"] == _profile(manifest_id)

    before = _admin(stack, "manifests", "list")
    bad = _profile(f"cli-bad-{uuid.uuid4().hex[:6]}").replace("version: 1", "version: 0").replace(
        "type: integer", "type: colour")
    refused = _as_admin(stack, "manifests", "upload", "-", stdin=bad)
    assert refused.returncode == 1 and not refused.stdout, refused
    assert "400 invalid_manifest: The manifest is not valid" in refused.stderr
    assert "\n  version: 0 is less than the minimum of 1" in refused.stderr
    assert "\n  inputs[3].type: 'colour' is not one of" in refused.stderr
    assert _admin(stack, "manifests", "list") == before

    kept = _as_admin(stack, "manifests", "delete", manifest_id)  # no terminal, no --yes
    assert kept.returncode == 1 and "--yes" in kept.stderr and _admin(stack, "manifests", "list") == before
    refused = _on_a_terminal(stack, "n", "manifests", "delete", manifest_id)
    assert refused.returncode == 1 and f"delete your profile '{manifest_id}'?" in refused.stdout
    assert "not confirmed; nothing done" in refused.stderr and _admin(stack, "manifests", "list") == before
    confirmed = _on_a_terminal(stack, "y", "manifests", "delete", manifest_id)
    assert confirmed.returncode == 0 and f"deleted profile {manifest_id}" in confirmed.stdout, confirmed
    assert manifest_id not in _ok(stack, "profiles")
    again = _as_admin(stack, "manifests", "delete", manifest_id, "--yes")
    assert again.returncode == 1 and "404 manifest_not_found: No such manifest." in again.stderr


def test_ssh_keys_add_list_generate_and_remove(stack: LocalStack, tmp_path: Path) -> None:
    comment = f"cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "id.pub").write_text(_public_key(comment) + "\n")
    added = _admin(stack, "ssh-keys", "add", str(tmp_path / "id.pub"))
    assert (added["name"], added["type"]) == (comment, "ssh-ed25519") and added["fingerprint"].startswith("SHA256:")
    twice = _as_admin(stack, "ssh-keys", "add", "-", "--name", "again", stdin=(tmp_path / "id.pub").read_text())
    assert twice.returncode == 1 and "409 ssh_key_exists" in twice.stderr
    assert [line.split()[1] for line in _ok(stack, "ssh-keys", "list").splitlines()
            if line.startswith(comment)] == [added["key_id"]]

    out = tmp_path / "generated"
    made = _as_admin(stack, "ssh-keys", "generate", "--name", f"{comment}-gen", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    private = out.read_text()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert "PRIVATE KEY" not in made.stdout and private.splitlines()[1] not in made.stdout
    public = load_ssh_private_key(private.encode(), None).public_key().public_bytes(Encoding.OpenSSH,
                                                                                    PublicFormat.OpenSSH).decode()
    assert f"public key   {public} {comment}-gen" in made.stdout and "SHA256:" in made.stdout
    count = len(_admin(stack, "ssh-keys", "list"))
    refused = _as_admin(stack, "ssh-keys", "generate", "--name", "never", "--out", str(out))
    assert refused.returncode == 1 and "exists: not overwritten, no key generated" in refused.stderr
    assert out.read_text() == private and len(_admin(stack, "ssh-keys", "list")) == count
    shown = _as_admin(stack, "ssh-keys", "generate", "--name", f"{comment}-stdout", "--out", "-")
    assert shown.returncode == 0 and shown.stdout.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert "SHA256:" in shown.stderr and "PRIVATE" not in shown.stderr

    kept = _as_admin(stack, "ssh-keys", "remove", comment)
    assert kept.returncode == 1 and "--yes" in kept.stderr
    assert _ok(stack, "ssh-keys", "remove", comment, "--yes").startswith(f"removed SSH key {comment} (SHA256:")
    assert added["key_id"] not in _ok(stack, "ssh-keys", "list")
    missing = _as_admin(stack, "ssh-keys", "remove", added["key_id"], "--yes")
    assert missing.returncode == 1 and f"no SSH key '{added['key_id']}'" in missing.stderr


def test_a_deployment_with_bad_inputs_shows_each_field_and_queues_nothing(stack: LocalStack) -> None:
    before = _admin(stack, "jobs", "list", "--limit", "100")
    done = _as_admin(stack, "deploy", "e2e-host", "ubuntu-24.04", "--input", "hostname=-bad-", "--input",
                     "ssh_keys=not a key", "--input", "colour=red", "--vcpus", "999")
    assert done.returncode == 1 and not done.stdout, done
    lines = done.stderr.splitlines()
    assert lines[0].startswith("fleetvisor: 400 invalid_inputs: The deployment has invalid fields:")
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "inputs.colour", "inputs.hostname", "inputs.ssh_keys", "sizing.vcpus"]
    assert "  sizing.vcpus: must be a whole number from 1 to 64." in lines
    assert "  inputs.colour: is not an input of this manifest." in lines
    unknown = _as_admin(stack, "deploy", "e2e-host", "no-such-profile", "--input", "hostname=x")
    assert unknown.returncode == 1 and "  profile: names no profile you can deploy" in unknown.stderr
    for usage in (["--input", "hostname"], ["--memory", "lots"], ["--disk", "1500MiB"],
                  ["--input", "nginx.port=80"]):
        wrong = _as_admin(stack, "deploy", "e2e-host", "ubuntu-24.04", *usage)
        assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, (usage, wrong.stderr)
    assert _admin(stack, "jobs", "list", "--limit", "100") == before


def test_a_deployment_is_queued_and_wait_follows_it_to_its_end(stack: LocalStack, tmp_path: Path) -> None:
    manifest_id = f"cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "profile.yaml").write_text(_profile(manifest_id))
    _ok(stack, "manifests", "upload", str(tmp_path / "profile.yaml"))
    (tmp_path / "id.pub").write_text(_public_key("from-a-file") + "\n")
    second = _public_key("on-the-line")
    (tmp_path / "inputs.yaml").write_text("hostname: from-the-file\nreplicas: 3\n")
    name = f"cli-vm-{uuid.uuid4().hex[:6]}"
    job = _admin(stack, "deploy", "e2e-host", manifest_id, "--inputs-file", str(tmp_path / "inputs.yaml"),
                 "--input", f"hostname={name}", "--input", f"ssh_keys=@{tmp_path / 'id.pub'}",
                 "--input", f"ssh_keys={second}", "--input", "replicas=2", "--input", "debug=yes",
                 "--installer", "nginx", "--input", "nginx.port=8080",
                 "--vcpus", "2", "--memory", "1GiB", "--disk", "12")
    assert (job["op"], job["status"]) == ("vm.deploy", "queued") and job["job_id"].startswith("job_")
    args = job["args"]
    assert (args["name"], args["vcpus"], args["memory_mib"], args["disk"]["size_gib"]) == (name, 2, 1024, 12)
    user_data = args["cdroms"][0]["generated"]["files"]["user-data"]
    assert "from-a-file" in user_data and "on-the-line" in user_data and "8080" in user_data
    waited = _as_admin(stack, "jobs", "wait", job["job_id"], "--timeout", "60")
    assert waited.returncode == 3 and "failed: source_refused" in waited.stderr, waited

    again = f"cli-vm-{uuid.uuid4().hex[:6]}"
    done = _as_admin(stack, "deploy", "e2e-host", manifest_id, "--input", f"hostname={again}",
                     "--input", f"ssh_keys={second}", "--wait", "--timeout", "60")
    assert done.returncode == 3, done
    first, *steps = done.stdout.splitlines()
    assert first.startswith(f"deploy {again} on e2e-host: job job_") and steps, done.stdout
    # The agent's last progress report may or may not reach the job before its completion does.
    assert re.fullmatch(r"  failed( at downloading \(http://127\.0\.0\.1:9/cli-test\.img\))?", steps[-1]), steps
    assert len(steps) == len(set(steps)) and all(line.startswith("  ") for line in steps)
    assert re.search(r"job job_[0-9a-f]{32} failed: source_refused", done.stderr), done.stderr


class Following:
    """`fleetvisor deploy ... --wait` running while this test plays the host: its output read line by line."""

    def __init__(self, stack: LocalStack, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETVISOR_")}
        env.update({"FLEETVISOR_URL": stack.url, "FLEETVISOR_EMAIL": stack.config.admin_email,
                    "FLEETVISOR_PASSWORD": ADMIN_PASSWORD})
        self.process = subprocess.Popen([FLEETVISOR, "deploy", *args, "--wait"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line.rstrip("\n")) for line in self.process.stdout or []],
                         daemon=True).start()

    def line(self) -> str:
        """The next line, past a `claimed` step: whether a poll falls between claim and start is chance."""
        line = self.lines.get(timeout=30)
        return self.lines.get(timeout=30) if line == "  claimed" else line

    def end(self) -> tuple[int, list[str], str]:
        code = self.process.wait(timeout=60)
        rest = []
        while True:
            try:
                rest.append(self.lines.get(timeout=1))
            except queue.Empty:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                return code, rest, stderr


@pytest.fixture
def silent_host(stack: LocalStack) -> Iterator[Host]:
    """A host of the admin's that answers as an agent only when this test says (test_deployments.Host),
    deregistered afterwards: the shared stack's other tests expect the admin to have its one host."""
    host = Host(stack.url, _admin(stack, "create-enrollment-token", "--note", "cli deploy")["token"])
    yield host
    admin = {"Authorization": f"Bearer {stack.login()}"}
    gone = requests.delete(f"{stack.url}/api/agents/{host.agent_id}", headers=admin, timeout=10)
    assert gone.status_code == 200, gone.text


def _succeed(host: Host, claimed: dict[str, Any], following: Following, host_name: str,
             data: dict[str, Any]) -> dict[str, str]:
    """The played host ends the claimed deploy job with this result; the hand-off `--wait` then prints."""
    name = data["name"]
    host.succeed(claimed, data, f"vm.deploy: {name} is up")
    code, rest, stderr = following.end()
    assert code == 0, (rest, stderr)
    rest = rest[1:] if rest[0] == "  claimed" else rest  # when no step was reported since the claim
    assert rest[0] == "  succeeded" and rest[1] == f"deploy {name} on {host_name}: vm.deploy: {name} is up"
    return dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in rest[2:])


def test_wait_prints_each_step_and_the_handoff_of_a_deployment(stack: LocalStack, silent_host: Host) -> None:
    manifest_id = f"cli-{uuid.uuid4().hex[:8]}"
    _ok(stack, "manifests", "upload", "-", stdin=_profile(manifest_id))
    host, name = silent_host, f"web-{uuid.uuid4().hex[:6]}"
    host_name = _admin(stack, "hosts", "show", host.agent_id)["name"]
    following = Following(stack, host_name, manifest_id, "--input", f"hostname={name}",
                          "--input", f"ssh_keys={_public_key('k')}", "--installer", "nginx")
    assert following.line().startswith(f"deploy {name} on {host_name}: job job_")
    assert following.line() == "  queued"
    claimed = host.claim()
    for progress, shown in (({"step": "downloading", "percent": 40}, "  running downloading 40%"),
                            ({"step": "first_boot", "detail": "installer nginx: ok"},
                             "  running first_boot (installer nginx: ok)")):
        lease = host.post(f"/agent/v1/jobs/{claimed['job_id']}/lease",
                          {"claim_token": claimed["claim_token"], "running": True, "progress": progress})
        assert lease.status_code == 200, lease.text
        assert following.line() == shown
    handoff = _succeed(host, claimed, following, host_name, {
        "vm_uuid": str(uuid.uuid4()), "name": name, "addresses": ["192.0.2.10"], "first_boot": "done",
        "installers": [{"id": "nginx", "exit": 3, "last_lines": ["nginx -t failed"]}]})
    assert (handoff["vm"], handoff["host"], handoff["addresses"]) == (name, host_name, "192.0.2.10")
    assert (handoff["user"], handoff["log in with"]) == ("tester", "ssh tester@192.0.2.10")
    assert handoff["installer nginx"].startswith("exit 3 configuration_error (Installed, but configuring it failed")
    assert handoff["output"] == "nginx -t failed" and "password" not in handoff


def test_a_deployment_on_a_user_mode_nic_carries_its_forwards_and_hands_off_ssh_through_them(
        stack: LocalStack, silent_host: Host) -> None:
    manifest_id = f"cli-{uuid.uuid4().hex[:8]}"
    _ok(stack, "manifests", "upload", "-", stdin=_profile(manifest_id))
    host, name = silent_host, f"nat-{uuid.uuid4().hex[:6]}"
    host_name = _admin(stack, "hosts", "show", host.agent_id)["name"]
    following = Following(stack, host_name, manifest_id, "--input", f"hostname={name}",
                          "--input", f"ssh_keys={_public_key('k')}", "--forward", "2222:22",
                          "--forward", "8080:80@0.0.0.0")
    started = re.search(r"job (job_[0-9a-f]{32})$", following.line())
    assert started and following.line() == "  queued"
    claimed = host.claim()
    assert claimed["job_id"] == started.group(1)
    assert _admin(stack, "jobs", "show", claimed["job_id"])["args"]["network"] == {"mode": "user", "forwards": [
        {"address": "127.0.0.1", "host_port": 2222, "guest_port": 22},
        {"address": "0.0.0.0", "host_port": 8080, "guest_port": 80}]}
    handoff = _succeed(host, claimed, following, host_name, {
        "vm_uuid": str(uuid.uuid4()), "name": name, "addresses": [], "first_boot": "done",
        "forwards": ["127.0.0.1:2222->22/tcp", "0.0.0.0:8080->80/tcp"]})
    assert handoff["forwards"] == "127.0.0.1:2222->22/tcp,0.0.0.0:8080->80/tcp", handoff
    assert handoff["log in with"] == "ssh -p 2222 tester@127.0.0.1"
    assert handoff["works from"] == f"the host itself; elsewhere: ssh -J {host_name} -p 2222 tester@127.0.0.1"
    refused = _as_admin(stack, "deploy", host_name, manifest_id, "--input", f"hostname={name}-2",
                        "--forward", "70000:22", "--forward", "2223:22", "--forward", "2223:80@here")
    assert refused.returncode == 1, refused
    for field, why in (("network.forwards[0].host_port", "must be a port number from 1 to 65535."),
                       ("network.forwards[2].host_port", "is forwarded twice."),
                       ("network.forwards[2].address", "must be an IPv4 address of the host")):
        assert f"  {field}: {why}" in refused.stderr, refused.stderr


def test_a_generated_password_is_shown_once_even_when_the_wait_is_cut_short(
        stack: LocalStack, silent_host: Host) -> None:
    host = silent_host
    windows = ["--input", "iso_source=pool", "--input", "iso_volume=eval.iso", "--input", f"iso_sha256={'0' * 64}"]
    queued = _ok(stack, "deploy", host.agent_id, "windows-server-2022", "--input", "computer_name=win-a", *windows)
    password = re.search(r"^password: (\S+)  \(generated: shown this once, copy it now\)$", queued, re.M)
    assert password and "queued as job" in queued, queued
    job_id = re.search(r"job (job_[0-9a-f]{32})", queued)
    assert job_id and password.group(1) not in _ok(stack, "--json", "jobs", "show", job_id.group(1))
    cut = _as_admin(stack, "deploy", host.agent_id, "windows-server-2022", "--input", "computer_name=win-b",
                    *windows, "--wait", "--timeout", "1")
    assert cut.returncode == 4 and "is still queued after 1 s" in cut.stderr, cut
    shown = re.search(r"the generated password of job (job_[0-9a-f]{32}) \(shown this once\): \S{12,}", cut.stderr)
    assert shown
    admin = {"Authorization": f"Bearer {stack.login()}"}
    for queued_id in (job_id.group(1), shown.group(1)):  # no host will take them: they end now, not at expiry
        assert requests.post(f"{stack.url}/api/jobs/{queued_id}/cancel", headers=admin, timeout=10).ok
