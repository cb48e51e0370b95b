"""Accounts in the browser against the real API: a session that survives a
reload, API keys shown once, admin user management, enrolment tokens with
their install command, the audit page, and what an operator does not see."""

from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local import LocalStack

from .browser import log_in

pytestmark = pytest.mark.browser


def _new_operator(stack: LocalStack, password: str = "operator password 42") -> str:
    email = f"ui-{uuid.uuid4().hex[:8]}@example.com"
    answer = requests.post(f"{stack.url}/api/users", timeout=10, headers={"Authorization": f"Bearer {stack.login()}"},
                           json={"email": email, "password": password, "name": "UI Tester", "role": "operator"})
    assert answer.status_code == 201, answer.text
    return email


def test_a_reload_keeps_the_session_through_the_refresh_cookie(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    expect(page.locator("[data-testid=user-email]")).to_have_text(stack.config.admin_email)
    page.reload()
    expect(page.locator("[data-testid=user-email]")).to_have_text(stack.config.admin_email)
    expect(page.locator("input[name=password]")).to_have_count(0)
    page.click("[data-testid=logout]")
    expect(page.locator("input[name=password]")).to_be_visible()
    page.reload()
    expect(page.locator("input[name=password]")).to_be_visible()


def test_api_key_secret_is_shown_once_and_works(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    page.click("[data-testid=nav-account]")
    form = page.locator("[data-testid=api-key-form]")
    form.locator("input[name=key_name]").fill("browser made")
    form.locator("input[name=scope][value=read]").check()
    form.locator("button[type=submit]").click()
    secret = page.locator("[data-testid=api-key-secret]").input_value()
    assert secret.startswith("fv_")
    assert requests.get(f"{stack.url}/api/agents", headers={"Authorization": f"Bearer {secret}"},
                        timeout=10).status_code == 200
    row = page.locator("[data-testid=api-key-row]", has_text="browser made")
    expect(row).to_have_count(1)
    page.click("[data-testid=nav-hosts]")
    page.click("[data-testid=nav-account]")
    expect(page.locator("[data-testid=api-key-secret]")).to_have_count(0)
    page.locator("[data-testid=api-key-row]", has_text="browser made").locator("button[data-action=revoke]").click()
    revoked = page.locator("[data-testid=api-key-row]", has_text="browser made")
    expect(revoked).to_have_attribute("data-revoked", "true")
    assert requests.get(f"{stack.url}/api/agents", headers={"Authorization": f"Bearer {secret}"},
                        timeout=10).status_code == 401


def test_admin_creates_and_disables_a_user(page: Page, stack: LocalStack) -> None:
    email = f"made-in-ui-{uuid.uuid4().hex[:6]}@example.com"
    log_in(page, stack)
    page.click("[data-testid=nav-users]")
    form = page.locator("[data-testid=user-form]")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=name]").fill("<b>Bold</b> Name")
    form.locator("select[name=role]").select_option("operator")
    form.locator("input[name=password]").fill("made in the browser 1")
    form.locator("button[type=submit]").click()
    row = page.locator(f"[data-testid=user-row][data-email='{email}']")
    expect(row.locator("[data-testid=user-disabled]")).to_have_text("no")
    expect(row).to_contain_text("<b>Bold</b> Name")  # shown as text, never as markup
    assert stack.login(email, "made in the browser 1")
    row.locator("button[data-action=disable]").click()
    row.get_by_role("alertdialog").locator("button[data-action=confirm]").click()
    expect(row.locator("[data-testid=user-disabled]")).to_have_text("yes")
    refused = requests.post(f"{stack.url}/api/auth/login", json={"email": email, "password": "made in the browser 1"},
                            timeout=10)
    assert refused.status_code == 401


def test_weak_password_is_explained_and_creates_nothing(page: Page, stack: LocalStack) -> None:
    email = f"weak-ui-{uuid.uuid4().hex[:6]}@example.com"
    log_in(page, stack)
    page.click("[data-testid=nav-users]")
    form = page.locator("[data-testid=user-form]")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill("short")
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=form-error]")).to_contain_text("at least 12")
    expect(page.locator(f"[data-testid=user-row][data-email='{email}']")).to_have_count(0)


def test_operator_changes_password_and_sees_no_users_page(page: Page, stack: LocalStack) -> None:
    email = _new_operator(stack)
    log_in(page, stack, email=email, password="operator password 42")
    expect(page.locator("[data-testid=user-email]")).to_have_text(email)
    expect(page.locator("[data-testid=nav-users]")).to_have_count(0)
    page.click("[data-testid=nav-account]")
    form = page.locator("[data-testid=password-form]")
    form.locator("input[name=current_password]").fill("operator password 42")
    form.locator("input[name=new_password]").fill("a newer password 43")
    form.locator("input[name=confirm_password]").fill("a newer password 43")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-testid=form-success]")).to_be_visible()
    assert stack.login(email, "a newer password 43")
    # The browser's own session carried on with the new token.
    page.reload()
    expect(page.locator("[data-testid=user-email]")).to_have_text(email)


def test_enrolment_token_with_install_command_then_revoked(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    page.click("[data-testid=nav-tokens]")
    page.locator("[data-testid=token-form] button[type=submit]").click()
    token = page.locator("[data-testid=enrollment-token]").input_value()
    assert token.startswith("fvet_")
    command = page.locator("[data-testid=install-command]").input_value()
    assert command.startswith(f"curl -fsSL {stack.url}/agent/install.sh") and token in command
    listed = requests.get(f"{stack.url}/api/enrollment-tokens", timeout=10,
                          headers={"Authorization": f"Bearer {stack.login()}"}).json()["enrollment_tokens"]
    token_id = listed[0]["token_id"]
    row = page.locator(f"[data-testid=token-row][data-token-id='{token_id}']")
    row.locator("button[data-action=revoke]").click()
    expect(row).to_have_attribute("data-revoked", "true")
    expect(row.locator("[data-testid=token-revoked]")).to_have_text("yes")


def test_audit_page_lists_logins(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    page.click("[data-testid=nav-audit]")
    expect(page.locator("[data-testid=audit-row][data-action='auth.login']").first).to_be_visible()


def test_the_api_reference_lists_the_servers_own_operations_and_searches_them(page: Page, stack: LocalStack) -> None:
    log_in(page, stack)
    page.click("[data-testid=nav-api]")
    expect(page).to_have_url(f"{stack.url}/api-reference")
    operations = page.locator("[data-testid=api-operation]")
    served = requests.get(f"{stack.url}/api/openapi.json", timeout=10).json()["paths"]
    expect(operations).to_have_count(sum(len(methods) for methods in served.values()))
    page.fill("[data-testid=api-search]", "post users create")
    create_user = page.locator("[data-op='POST /api/users']")
    expect(operations).to_have_count(1)
    create_user.locator("summary").click()
    expect(create_user).to_contain_text("role (optional)")
    expect(create_user.locator("textarea")).to_contain_text('-d \'{"email":"<email>","password":"<password>"}\'')
    page.reload()
    expect(page.locator("h1")).to_have_text("API reference")
