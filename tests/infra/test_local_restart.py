"""`make up` twice: a password the operator changed in between survives the restart (issue 17, #2).

The local stack generates the first admin's password once (.fleetvisor/secrets/admin-password); only an
explicit FLEETVISOR_ADMIN_PASSWORD (StackConfig.admin_password) resets it at a start.
"""

from __future__ import annotations

from pathlib import Path

import requests

from infra.local import LocalStack, StackConfig, _banner, free_port

CHOSEN = "a password I chose myself 7"


def _stack(root: Path, password: str | None = None) -> LocalStack:
    return LocalStack(StackConfig(root=root, api_port=free_port(), spa_dir=None, start_agent=False,
                                  admin_password=password))


def test_a_changed_password_survives_a_restart_and_only_an_explicit_one_resets_it(tmp_path: Path) -> None:
    with _stack(tmp_path) as first:
        generated = first.admin_password
        assert f"Password:  {generated}" in _banner(first)
        token = first.login()
        changed = requests.post(f"{first.url}/api/me/password", timeout=10,
                                headers={"Authorization": f"Bearer {token}", "X-Requested-With": "fleetvisor"},
                                json={"current_password": generated, "new_password": CHOSEN})
        assert changed.status_code == 200, changed.text

    with _stack(tmp_path) as second:
        assert second.login(password=CHOSEN)  # not put back to the generated one
        assert generated not in _banner(second) and "the one you set" in _banner(second)

    with _stack(tmp_path, password="reset by the operator 99") as third:
        assert third.login(password="reset by the operator 99")
        assert "Password:  reset by the operator 99" in _banner(third)
