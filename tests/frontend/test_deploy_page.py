"""Deploying a VM from the web app against the real API: an SSH key added on the Account page, then
the Deploy page's form drawn from ubuntu-24.04's schema, a field refused beside itself (by the page's
own check, then by the server's 400), and the job accepted and followed. The host is enrolled over
HTTP by this test and never claims the job, so nothing is downloaded or run."""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Page, expect

from infra.local import LocalStack
from tests.e2e.test_deployments import Host

from .browser import log_in

pytestmark = pytest.mark.browser


def _jobs_on(stack: LocalStack, headers: dict[str, str], agent_id: str) -> list[dict[str, object]]:
    answer = requests.get(f"{stack.url}/api/jobs?agent_id={agent_id}", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, object]] = answer.json()["jobs"]
    return jobs


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
    form.locator("button[type=submit]").click()
    expect(inputs.locator("[data-field=hostname] [data-testid=field-error]")).to_contain_text("must be a host name")

    # Past the page's checks, the server refuses what only it can tell (a key it cannot parse), by field.
    inputs.locator("input[name=hostname]").fill("web-ui-1")
    inputs.locator("textarea[name=ssh_keys]").fill("ssh-ed25519 AAAAnot-a-key me@x")
    form.locator("button[type=submit]").click()
    expect(inputs.locator("[data-field=ssh_keys] [data-testid=field-error]")).to_contain_text(
        "not an accepted OpenSSH public key")
    expect(inputs.locator("[data-field=hostname] [data-testid=field-error]")).to_have_count(0)
    assert _jobs_on(stack, admin, host.agent_id) == []

    inputs.locator("textarea[name=ssh_keys]").fill("")
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=deploy-status]")).to_have_text("queued")
    (job,) = _jobs_on(stack, admin, host.agent_id)
    assert job["op"] == "vm.deploy"
    expect(page.locator("[data-testid=deploy-job]")).to_contain_text(str(job["job_id"]))
