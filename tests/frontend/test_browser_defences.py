"""The browser's own defences are on (infra/browser_headers.py), and the app works under them.

Every answer of the local server carries the same Content-Security-Policy,
X-Frame-Options, Referrer-Policy and nosniff as CloudFront adds in AWS
(tests/infra/test_stack_config.py holds the template to the same module). The
other browser tests, the console's included, run under them too; here: a
session breaks no rule of the policy, and another site cannot frame the app.
"""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.browser_headers import origin_of, security_headers
from infra.local import LocalStack

from .browser import log_in

pytestmark = pytest.mark.browser

VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_every_answer_carries_the_policy_the_deployed_stack_sends(stack: LocalStack) -> None:
    expected = security_headers(origin_of(stack.service_env()["AWS_ENDPOINT_URL"]), https=False)
    for path in ("/", "/hosts/anything", "/api/health", "/api/agents", "/api/no-such-route"):
        answer = requests.get(stack.url + path, timeout=10)
        sent = {name: answer.headers.get(name) for name in expected}
        assert sent == expected, path
        assert "Strict-Transport-Security" not in answer.headers  # plain HTTP: nothing to pin


def test_a_session_breaks_no_rule_of_the_policy(page: Page, stack: LocalStack) -> None:
    page.add_init_script(VIOLATIONS)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    log_in(page, stack)
    expect(page.locator("[data-testid=host] [data-testid=host-status]")).to_have_text("online")
    expect(page.locator("[data-testid=vm-row][data-vm-name=test]")).to_be_visible()
    page.wait_for_timeout(3000)  # the page's own background reads (the change feed, the jobs) meanwhile
    page.click("[data-testid=nav-vms]")  # the VMs page places its rows and menus with inline styles
    page.locator("[data-testid=fleet-row][data-vm-name=test] button[data-action=menu]").click()
    expect(page.locator("[data-testid=fleet-row-menu]")).to_be_visible()
    page.wait_for_timeout(1500)

    assert page.evaluate("window.__violations") == []
    assert refused == []


def test_another_site_cannot_frame_the_app(page: Page, stack: LocalStack) -> None:
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    page.set_content(f'<iframe id="app" src="{stack.url}/login" width="800" height="600"></iframe>')
    page.wait_for_timeout(2000)

    [framed] = [frame for frame in page.frames if frame != page.main_frame]
    assert not framed.url.startswith(stack.url) or framed.locator("input").count() == 0
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in said), said
