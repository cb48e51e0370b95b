"""Account administration: who may, what is checked, what sticks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from chalice.test import Client
from chalicelib.auth.logic import find_by_email
from chalicelib.auth.models import User

from .conftest import PASSWORD, Operator

JSON = {"Content-Type": "application/json"}


def _new_user(client: Client, admin: Operator, email: str, password: str = "a fine long password", **extra: Any) -> Any:
    return client.http.post(
        "/api/users",
        headers=admin.headers,
        body=json.dumps({"email": email, "password": password, "name": "Ada", **extra}),
    )


def test_operators_cannot_manage_accounts(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    for answer in (client.http.get("/api/users", headers=op.headers), _new_user(client, op, "someone@example.com")):
        assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "admin_required")
    assert find_by_email("someone@example.com") is None


def test_admin_creates_an_account_that_can_log_in(client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    email = f"New.Person-{uuid.uuid4().hex[:6]}@Example.com"
    answer = _new_user(client, admin, email, role="operator", owner_id="usr_evil", user_id="x")
    assert answer.status_code == 201
    user = answer.json_body
    assert (user["email"], user["role"], user["name"]) == (email.lower(), "operator", "Ada")
    assert user["user_id"].startswith("usr_") and user["user_id"] != "x"
    login = client.http.post(
        "/api/auth/login", headers=JSON, body=json.dumps({"email": email.upper(), "password": "a fine long password"})
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("password", "why"),
    [("short pass", "at least 12"), ("x" * 1025, "at most 1024"), ("012345678910", "common"), ("EMAIL", "email")],
)
def test_weak_passwords_are_refused_and_nothing_is_created(
    client: Client, make_operator: Any, password: str, why: str
) -> None:
    admin: Operator = make_operator("admin")
    email = f"weak-{uuid.uuid4().hex[:8]}@example.com"
    answer = _new_user(client, admin, email, password=email.upper() if password == "EMAIL" else password)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "weak_password")
    assert why in answer.json_body["error"]["message"]
    assert find_by_email(email) is None


def test_email_is_unique_whatever_its_case(client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    op: Operator = make_operator()
    answer = _new_user(client, admin, op.email.upper())
    assert (answer.status_code, answer.json_body["error"]["code"]) == (409, "email_taken")


def test_disabling_ends_sessions_at_once_and_enabling_allows_login(client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    op: Operator = make_operator()
    answer = client.http.patch(f"/api/users/{op.user_id}", headers=admin.headers, body=json.dumps({"disabled": True}))
    assert answer.status_code == 200 and answer.json_body["disabled"] is True
    assert client.http.get("/api/me", headers=op.headers).status_code == 401
    login = json.dumps({"email": op.email, "password": PASSWORD})
    assert client.http.post("/api/auth/login", headers=JSON, body=login).status_code == 401
    client.http.patch(f"/api/users/{op.user_id}", headers=admin.headers, body=json.dumps({"disabled": False}))
    assert client.http.post("/api/auth/login", headers=JSON, body=login).status_code == 200


def test_admins_cannot_lock_themselves_out(client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    for change in ({"disabled": True}, {"role": "operator"}):
        answer = client.http.patch(f"/api/users/{admin.user_id}", headers=admin.headers, body=json.dumps(change))
        assert (answer.status_code, answer.json_body["error"]["code"]) == (409, "cannot_change_self")
    assert client.http.get("/api/me", headers=admin.headers).json_body["role"] == "admin"


def test_admin_password_reset_ends_the_users_sessions(client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    op: Operator = make_operator()
    answer = client.http.post(
        f"/api/users/{op.user_id}/password",
        headers=admin.headers,
        body=json.dumps({"new_password": "reset by the admin"}),
    )
    assert answer.status_code == 200
    assert client.http.get("/api/me", headers=op.headers).status_code == 401
    login = client.http.post(
        "/api/auth/login", headers=JSON, body=json.dumps({"email": op.email, "password": "reset by the admin"})
    )
    assert login.status_code == 200


def test_listing_pages_through_every_account_with_clamped_limits(client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    seen: list[str] = []
    cursor = ""
    for _ in range(500):
        answer = client.http.get(f"/api/users?limit=1&cursor={cursor}", headers=admin.headers).json_body
        assert len(answer["users"]) <= 1
        seen += [u["user_id"] for u in answer["users"]]
        if not answer["next"]:
            break
        cursor = answer["next"]
    assert admin.user_id in seen and len(seen) == len(set(seen))
    huge = client.http.get("/api/users?limit=1000000000", headers=admin.headers).json_body["users"]
    assert 1 <= len(huge) <= 100
    assert client.http.get("/api/users?limit=-5", headers=admin.headers).status_code == 200


@pytest.mark.parametrize("cursor", ["garbage", "eyJhIjoxfQ", "W10", "eyJ1c2VyX2lkIjp7IkIiOiJ4In19"])
def test_forged_cursors_are_400(client: Client, make_operator: Any, cursor: str) -> None:
    admin: Operator = make_operator("admin")
    answer = client.http.get(f"/api/users?cursor={cursor}", headers=admin.headers)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_cursor")


def test_signup_is_off_by_default(client: Client) -> None:
    answer = client.http.post(
        "/api/auth/signup", headers=JSON, body=json.dumps({"email": "self@example.com", "password": "my own password"})
    )
    assert (answer.status_code, answer.json_body["error"]["code"]) == (403, "signup_disabled")
    assert find_by_email("self@example.com") is None


def test_an_internationalised_address_an_admin_creates_can_log_in_however_it_is_typed(
        client: Client, make_operator: Any) -> None:
    admin: Operator = make_operator("admin")
    tag = uuid.uuid4().hex[:6]
    composed = f"zoë-{tag}@exämple.com"  # "ë" as one character (NFC)
    assert _new_user(client, admin, composed).status_code == 201

    decomposed = f"ZOE\u0308-{tag}@EXA\u0308MPLE.COM"  # "e" plus a combining diaeresis, in capitals
    login = client.http.post("/api/auth/login", headers=JSON,
                             body=json.dumps({"email": decomposed, "password": "a fine long password"}))
    assert login.status_code == 200, login.body
    assert login.json_body["user"]["email"] == composed


@pytest.mark.parametrize("email", ["no-at-sign", "@example.com", "name@", "a@b@example.com", "a b@example.com",
                                   "tab\t@example.com", "x" * 250 + "@example.com"])
def test_a_malformed_email_is_refused_saying_what_is_allowed(client: Client, make_operator: Any,
                                                             email: str) -> None:
    admin: Operator = make_operator("admin")
    answer = _new_user(client, admin, email)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_request")
    message = answer.json_body["error"]["message"]
    assert "like name@example.com" in message or "at most 254 characters" in message, message
    assert not any(user.email == email.lower() for user in User.scan(User.email.exists()))
