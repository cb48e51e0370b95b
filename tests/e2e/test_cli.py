"""The `fleetvisor` command against a running stack, over HTTP."""

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
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLEETVISOR_")}
    base.update({"FLEETVISOR_URL": stack.url, **env})
    return subprocess.run([FLEETVISOR, *args], input=stdin, capture_output=True, text=True, env=base, timeout=60,
                          check=False)


def _admin(stack: LocalStack, *args: str, stdin: str = "") -> Any:
    done = _run(stack, *args, stdin=stdin, FLEETVISOR_EMAIL=stack.config.admin_email,
                FLEETVISOR_PASSWORD=ADMIN_PASSWORD)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


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
