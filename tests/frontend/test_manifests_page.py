"""Operator manifests in the web app against the real API: a profile uploaded on the Manifests page is
offered by the Deploy page; a manifest the server refuses shows each failing path and why beside the
text, and nothing is stored; deleting asks first, then the profile is gone from the Deploy page too."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local import REPO, LocalStack

from .browser import log_in

pytestmark = pytest.mark.browser

UBUNTU = Path(REPO / "functions/chalicelib/deployments/builtin/ubuntu-24.04.yaml").read_text()


def _own_ids(stack: LocalStack) -> list[str]:
    answer = requests.get(f"{stack.url}/api/manifests", headers={"Authorization": f"Bearer {stack.login()}"},
                          timeout=10)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["manifests"]]


def _profile_choices(page: Page) -> list[str]:
    page.click("[data-testid=nav-deploy]")
    select = page.locator("[data-testid=deploy-form] select[name=profile]")
    expect(select.locator("option[value='ubuntu-24.04']")).to_have_count(1)
    return [value for value in select.locator("option").evaluate_all("options => options.map(o => o.value)") if value]


def test_upload_refuse_and_delete_a_manifest(page: Page, stack: LocalStack) -> None:
    before = _own_ids(stack)
    log_in(page, stack)
    page.click("[data-testid=nav-manifests]")
    expect(page.locator("[data-testid=builtin-row][data-id='ubuntu-24.04']")).to_have_count(1)
    expect(page.locator("[data-testid=manifest-schema-link]")).to_have_attribute("href", "/api/manifest-schema")
    form = page.locator("[data-testid=manifest-form]")

    # Refused: every failing path beside the text, which stays; nothing stored.
    bad = UBUNTU.replace("id: ubuntu-24.04", "id: lab-bad").replace("version: 1", "version: 0", 1)
    form.locator("textarea[name=manifest]").fill(bad.replace("type: hostname", "type: hostnam", 1))
    form.locator("button[type=submit]").click()
    problems = form.locator("[data-testid=manifest-problem]")
    expect(problems.first).to_be_visible()
    paths = problems.evaluate_all("items => items.map(i => i.dataset.path)")
    assert {"version", "inputs[0].type"} <= set(paths), paths
    expect(form.locator("[data-testid=manifest-problem][data-path=version]")).to_contain_text(
        "version 0 is less than the minimum of 1")
    expect(form.locator("[data-testid=manifest-problem][data-path='inputs[0].type']")).to_contain_text(
        "'hostnam' is not one of")
    assert "id: lab-bad" in form.locator("textarea[name=manifest]").input_value()
    assert _own_ids(stack) == before

    # Accepted: listed as yours, and the Deploy page offers it.
    good = UBUNTU.replace("id: ubuntu-24.04", "id: lab-ubuntu").replace("title: Ubuntu Server 24.04 LTS",
                                                                          "title: Lab Ubuntu", 1)
    form.locator("textarea[name=manifest]").fill(good)
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=manifest-added]")).to_contain_text("Added profile lab-ubuntu")
    expect(form.locator("[data-testid=manifest-problem]")).to_have_count(0)
    row = page.locator("[data-testid=manifest-row][data-id='lab-ubuntu']")
    expect(row).to_contain_text("Lab Ubuntu")
    assert "lab-ubuntu" in _own_ids(stack)
    assert "lab-ubuntu" in _profile_choices(page)

    # Deleted once confirmed: gone from the list, the API and the Deploy page.
    page.click("[data-testid=nav-manifests]")
    row.get_by_role("button", name="Delete manifest lab-ubuntu").click()
    assert "lab-ubuntu" in _own_ids(stack)  # asking is not deleting
    row.get_by_role("button", name="Yes, delete lab-ubuntu").click()
    expect(row).to_have_count(0)
    assert _own_ids(stack) == before
    assert "lab-ubuntu" not in _profile_choices(page)
