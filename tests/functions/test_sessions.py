"""Sessions: the refresh cookie, rotation, reuse detection, logout and expiry."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client
from chalicelib.auth.models import Session

from .conftest import PASSWORD, Operator

JSON = {"Content-Type": "application/json"}
REFRESH = {"Content-Type": "application/json", "X-Requested-With": "fleetvisor"}


def _credentials(op: Operator) -> str:
    return json.dumps({"email": op.email, "password": PASSWORD})


def _login(client: Client, op: Operator) -> tuple[str, str]:
    answer = client.http.post(
        "/api/auth/login", headers=JSON, body=json.dumps({"email": op.email, "password": PASSWORD})
    )
    assert answer.status_code == 200
    return answer.json_body["access_token"], _cookie_value(answer)


def _set_cookie(answer: Any) -> str:
    return str({k.lower(): v for k, v in answer.headers.items()}["set-cookie"])


def _cookie_value(answer: Any) -> str:
    return _set_cookie(answer).split(";")[0].split("=", 1)[1]


def _refresh(client: Client, cookie: str, headers: dict[str, str] = REFRESH) -> Any:
    return client.http.post("/api/auth/refresh", headers={**headers, "Cookie": f"fv_refresh={cookie}"}, body="")


def _me(client: Client, token: str) -> int:
    return int(client.http.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code)


def test_login_sets_a_strict_http_only_cookie_scoped_to_auth(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    answer = client.http.post(
        "/api/auth/login", headers=JSON, body=json.dumps({"email": op.email, "password": PASSWORD})
    )
    attributes = [a.strip() for a in _set_cookie(answer).split(";")]
    assert attributes[0].startswith("fv_refresh=") and len(attributes[0]) > 40
    assert {"HttpOnly", "SameSite=Strict", "Path=/api/auth", "Max-Age=43200"} <= set(attributes)
    assert "Secure" not in attributes  # the local stage is plain HTTP; every other stage sets it
    assert answer.json_body["expires_in"] <= 900


def test_refresh_rotates_and_a_reused_token_ends_the_session(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    access, first = _login(client, op)
    answer = _refresh(client, first)
    assert answer.status_code == 200
    second = _cookie_value(answer)
    assert second != first and _me(client, answer.json_body["access_token"]) == 200
    reused = _refresh(client, first)
    assert (reused.status_code, reused.json_body["error"]["code"]) == (401, "session_expired")
    # The thief's replay ended the session for everyone holding it.
    assert _refresh(client, second).status_code == 401
    assert _me(client, access) == 401


def test_refresh_needs_the_fleetvisor_header(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    _, cookie = _login(client, op)
    answer = _refresh(client, cookie, headers=JSON)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "csrf_check_failed")
    assert _refresh(client, cookie).status_code == 200  # the refused call did not spend the token


def test_refresh_without_or_with_garbage_cookie_is_401(client: Client) -> None:
    for cookie in ("", "ses_nope.abc", "x" * 500, "ses_" + "0" * 32 + "."):
        answer = _refresh(client, cookie)
        assert (answer.status_code, answer.json_body["error"]["code"]) == (401, "session_expired")


def test_logout_ends_the_access_and_refresh_tokens(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    access, cookie = _login(client, op)
    answer = client.http.post("/api/auth/logout", headers={**JSON, "Authorization": f"Bearer {access}"}, body="")
    assert answer.status_code == 200 and "Max-Age=0" in _set_cookie(answer)
    assert _me(client, access) == 401
    assert _refresh(client, cookie).status_code == 401


def test_logout_everywhere_ends_other_sessions(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    laptop, laptop_cookie = _login(client, op)
    phone, _ = _login(client, op)
    sessions = client.http.get("/api/me/sessions", headers={"Authorization": f"Bearer {phone}"}).json_body["sessions"]
    assert len(sessions) == 3 and sum(s["current"] for s in sessions) == 1
    client.http.post("/api/auth/logout-all", headers={**JSON, "Authorization": f"Bearer {phone}"}, body="")
    assert (_me(client, laptop), _me(client, phone), _me(client, op.token)) == (401, 401, 401)
    assert _refresh(client, laptop_cookie).status_code == 401


def test_revoking_one_session_leaves_the_others(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    other, _ = _login(client, op)
    headers = {"Authorization": f"Bearer {op.token}"}
    sessions = client.http.get("/api/me/sessions", headers=headers).json_body["sessions"]
    [target] = [s for s in sessions if not s["current"]]
    assert client.http.delete(f"/api/me/sessions/{target['session_id']}", headers=headers).status_code == 200
    assert (_me(client, other), _me(client, op.token)) == (401, 200)


def test_password_change_needs_the_current_one_and_ends_other_sessions(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    other, _ = _login(client, op)
    headers = {**JSON, "Authorization": f"Bearer {op.token}"}
    wrong = client.http.post(
        "/api/me/password",
        headers=headers,
        body=json.dumps({"current_password": "not it at all", "new_password": "a brand new secret"}),
    )
    assert wrong.status_code == 400 and _me(client, other) == 200
    answer = client.http.post(
        "/api/me/password",
        headers=headers,
        body=json.dumps({"current_password": PASSWORD, "new_password": "a brand new secret"}),
    )
    assert answer.status_code == 200
    assert (_me(client, other), _me(client, op.token), _me(client, answer.json_body["access_token"])) == (401, 401, 200)
    relog = client.http.post(
        "/api/auth/login", headers=JSON, body=json.dumps({"email": op.email, "password": "a brand new secret"})
    )
    assert relog.status_code == 200


def test_idle_and_absolute_expiry_end_a_session(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    _, idle_cookie = _login(client, op)
    _, old_cookie = _login(client, op)
    idle = Session.get(idle_cookie.split(".")[0])
    idle.update(actions=[Session.last_used_ms.set(idle.last_used_ms - 31 * 60 * 1000)])
    old = Session.get(old_cookie.split(".")[0])
    old.update(actions=[Session.expires_at.set(old.created_ms // 1000 - 1)])
    assert _refresh(client, idle_cookie).status_code == 401
    assert _refresh(client, old_cookie).status_code == 401
