"""Deploying a VM from the web app against the real API: an SSH key added on the Account page, then
the Deploy page's form drawn from ubuntu-24.04's schema, a field refused beside itself (by the page's
own check, then by the server's 400), the Network choice (another libvirt network the server refuses by
name; a user-mode NIC whose duplicate forward the page refuses beside it), and the job accepted with its
forwards, followed, and handed off with `ssh -p`. The host is enrolled over HTTP and played by this test
(it claims the job and reports a result), so nothing is downloaded or run."""

from __future__ import annotations

import uuid

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Locator, Page, expect

from infra.local import LocalStack
from tests.e2e.test_deployments import Host

from .browser import log_in

pytestmark = pytest.mark.browser


def _jobs_on(stack: LocalStack, headers: dict[str, str], agent_id: str) -> list[dict[str, object]]:
    answer = requests.get(f"{stack.url}/api/jobs?agent_id={agent_id}", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, object]] = answer.json()["jobs"]
    return jobs


def _beside(where: Locator, field: str) -> Locator:
    """Why the page or the server refused the field named `field` (its data-field), shown beside it."""
    return where.locator(f"[data-field={field}] [data-testid=field-error]")


def _submit(form: Locator) -> None:
    form.locator("button[type=submit]").click()


def _refused(form: Locator, where: Locator, field: str, why: str) -> None:
    """Submitting the form is refused: `why` shows beside the field."""
    _submit(form)
    expect(_beside(where, field)).to_contain_text(why)


def test_deploy_a_vm_from_the_web_app(page: Page, stack: LocalStack) -> None:
    admin = {"Authorization": f"Bearer {stack.login()}"}
    token = requests.post(f"{stack.url}/api/enrollment-tokens", headers=admin, json={"uses": 1}, timeout=10)
    assert token.status_code == 201, token.text
    host = Host(stack.url, token.json()["token"])
    public_key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)

    log_in(page, stack)
    page.click("[data-testid=nav-account]")
    keys = page.locator("[data-testid=ssh-key-form]")
    keys.locator("input[name=ssh_key_name]").fill("browser key")
    keys.locator("textarea[name=public_key]").fill(public_key.decode() + " me@browser")
    keys.locator("button[type=submit]").click()
    row = page.locator("[data-testid=ssh-key-row]", has_text="browser key")
    expect(row).to_have_count(1)
    stored = next(k for k in requests.get(f"{stack.url}/api/ssh-keys", headers=admin, timeout=10).json()["ssh_keys"]
                  if k["name"] == "browser key")
    expect(row.locator("[data-testid=ssh-key-fingerprint]")).to_have_text(stored["fingerprint"])

    page.click("[data-testid=nav-deploy]")
    form = page.locator("[data-testid=deploy-form]")
    form.locator("select[name=host]").select_option(host.agent_id)
    form.locator("select[name=profile]").select_option("ubuntu-24.04")
    inputs = form.locator("[data-testid=deploy-inputs]")
    inputs.locator("input[name=hostname]").fill("bad_host!")
    inputs.locator(f"input[name=ssh_keys-stored][value={stored['key_id']}]").check()
    _refused(form, inputs, "hostname", "must be a host name")

    # Past the page's checks, the server refuses what only it can tell (a key it cannot parse), by field.
    inputs.locator("input[name=hostname]").fill("web-ui-1")
    inputs.locator("textarea[name=ssh_keys]").fill("ssh-ed25519 AAAAnot-a-key me@x")
    _refused(form, inputs, "ssh_keys", "not an accepted OpenSSH public key")
    expect(_beside(inputs, "hostname")).to_have_count(0)
    assert _jobs_on(stack, admin, host.agent_id) == []

    inputs.locator("textarea[name=ssh_keys]").fill("")

    # Another libvirt network, by a name the server refuses: beside the name field.
    network = form.locator("[data-testid=deploy-network]")
    expect(network.get_by_role("radio", name="The profile's libvirt network (default)")).to_be_checked()
    network.get_by_role("radio", name="Another libvirt network of the host").check()
    network.locator("input[name=network-name]").fill("lab net")
    _refused(form, network, "network-name", "must name a libvirt network of the host")
    assert _jobs_on(stack, admin, host.agent_id) == []

    # The user-mode NIC: SSH from host port 2210 and another forward on the same host port, refused beside it.
    network.get_by_role("radio", name="User-mode NIC", exact=False).check()
    network.locator("input[name=forward-0-host_port]").fill("2210")
    network.get_by_role("button", name="Add a forward").click()
    network.locator("input[name=forward-1-host_port]").fill("2210")
    network.locator("input[name=forward-1-guest_port]").fill("80")
    _refused(form, network, "forward-1-host_port", "Host port is forwarded twice.")
    expect(_beside(network, "forward-0-host_port")).to_have_count(0)
    network.locator("input[name=forward-1-host_port]").fill("8010")
    _submit(form)
    expect(page.locator("[data-testid=deploy-status]")).to_have_text("queued")
    (job,) = _jobs_on(stack, admin, host.agent_id)
    assert job["op"] == "vm.deploy"
    args = job["args"]
    assert isinstance(args, dict) and args["network"] == {"mode": "user", "forwards": [
        {"address": "127.0.0.1", "host_port": 2210, "guest_port": 22},
        {"address": "127.0.0.1", "host_port": 8010, "guest_port": 80}]}
    expect(page.locator("[data-testid=deploy-job]")).to_contain_text(str(job["job_id"]))

    # The host runs it (played here) and reports its forwards: the hand-off logs in through them.
    claimed = host.claim()
    assert claimed["job_id"] == job["job_id"]
    host.succeed(claimed, {"vm_uuid": str(uuid.uuid4()), "name": "web-ui-1", "addresses": [],
                           "forwards": ["127.0.0.1:2210->22/tcp", "127.0.0.1:8010->80/tcp"]}, "vm.deploy: up")
    expect(page.locator("[data-testid=deploy-ssh]")).to_have_value("ssh -p 2210 fleetadmin@127.0.0.1")
    host_name = requests.get(f"{stack.url}/api/agents/{host.agent_id}", headers=admin, timeout=10).json()["name"]
    expect(page.locator("[data-testid=deploy-ssh-jump]")).to_have_value(
        f"ssh -J {host_name} -p 2210 fleetadmin@127.0.0.1")
    expect(page.locator("[data-testid=deploy-forwards] li")).to_have_text(
        ["127.0.0.1:2210->22/tcp", "127.0.0.1:8010->80/tcp"])
