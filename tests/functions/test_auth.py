"""Login and operator access tokens (the skeleton's part of the identity work)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from chalice.test import Client
from chalicelib import keys
from chalicelib.audit.models import AuditRecord
from chalicelib.settings import settings

from .conftest import PASSWORD, Operator

JSON = {"Content-Type": "application/json"}


def _login(client: Client, email: str, password: str) -> Any:
    return client.http.post("/api/auth/login", headers=JSON, body=json.dumps({"email": email, "password": password}))


def _error(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json_body["error"]["code"]


def test_login_gives_a_token_that_me_accepts(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    me = client.http.get("/api/me", headers=op.headers)
    assert me.status_code == 200
    assert {k: me.json_body[k] for k in ("user_id", "email", "role", "disabled")} == {
        "user_id": op.user_id,
        "email": op.email,
        "role": "operator",
        "disabled": False,
    }


def test_login_email_is_case_insensitive(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    assert _login(client, op.email.upper(), PASSWORD).status_code == 200


def test_wrong_password_and_unknown_email_answer_the_same(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    wrong = _login(client, op.email, "not the password at all")
    unknown = _login(client, "nobody@example.com", "not the password at all")
    assert _error(wrong) == _error(unknown) == (401, "invalid_credentials")
    assert wrong.json_body == unknown.json_body


def test_a_failed_login_goes_into_the_trail_of_the_account_it_tried(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    _login(client, op.email, "not the password at all")
    unknown = f"nobody-{op.user_id[-8:]}@example.com"
    _login(client, unknown, "not the password at all")

    seen = client.http.get("/api/audit?action=auth.login", headers=op.headers).json_body["records"]
    assert [(r["actor"], r["outcome"], r["detail"]) for r in seen if r["outcome"] == "denied"] == [
        (op.email, "denied", {"code": "invalid_credentials"})]
    assert not [r for r in AuditRecord.query("anonymous") if r.actor == op.email]
    assert [r.outcome for r in AuditRecord.query("anonymous") if r.actor == unknown] == ["denied"]


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not.a.jwt", "Bearer " + "x" * 5000])
def test_missing_or_malformed_token_is_401(client: Client, header: str) -> None:
    answer = client.http.get("/api/agents", headers={"Authorization": header} if header else {})
    assert _error(answer) == (401, "unauthorized")


def _forge(op: Operator, header_changes: dict[str, Any], claim_changes: dict[str, Any], key: Any = None) -> str:
    kid, signer = keys.load(settings().token_key_secret).signer()
    claims = jwt.decode(op.token, options={"verify_signature": False})
    claims.update(claim_changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"typ": "at+jwt", "kid": kid, **header_changes}
    return jwt.encode(claims, key or signer, algorithm="EdDSA", headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "case",
    [
        "alg_none",
        "alg_NONE",
        "wrong_typ",
        "agent_typ",
        "wrong_aud",
        "wrong_iss",
        "expired",
        "no_exp",
        "no_sub",
        "no_iat",
        "unknown_kid",
        "other_key",
        "edited_payload",
    ],
)
def test_forged_or_wrong_tokens_are_refused(client: Client, make_operator: Any, case: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    op: Operator = make_operator()
    now = int(time.time())
    forged = {
        "wrong_typ": lambda: _forge(op, {"typ": "JWT"}, {}),
        "agent_typ": lambda: _forge(op, {"typ": "fv-agent+jwt"}, {}),
        "wrong_aud": lambda: _forge(op, {}, {"aud": "fleetvisor-agent-api"}),
        "wrong_iss": lambda: _forge(op, {}, {"iss": "someone-else"}),
        "expired": lambda: _forge(op, {}, {"iat": now - 4000, "exp": now - 3000}),
        "no_exp": lambda: _forge(op, {}, {"exp": None}),
        "no_sub": lambda: _forge(op, {}, {"sub": None}),
        "no_iat": lambda: _forge(op, {}, {"iat": None}),
        "unknown_kid": lambda: _forge(op, {"kid": "../../secrets/key"}, {}),
        "other_key": lambda: _forge(op, {}, {}, key=Ed25519PrivateKey.generate()),
    }
    if case in ("alg_none", "alg_NONE"):
        claims = jwt.decode(op.token, options={"verify_signature": False})
        token = f"{_b64({'alg': case.removeprefix('alg_'), 'typ': 'at+jwt'})}.{_b64(claims)}."
    elif case == "edited_payload":
        head, _, sig = op.token.split(".")
        claims = jwt.decode(op.token, options={"verify_signature": False})
        token = f"{head}.{_b64({**claims, 'sub': 'usr_someone_else'})}.{sig}"
    else:
        token = forged[case]()
    answer = client.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert _error(answer) == (401, "unauthorized")


def test_disabled_account_token_stops_working(client: Client, make_operator: Any) -> None:
    from chalicelib.auth.models import User

    op: Operator = make_operator()
    User(op.user_id).update(actions=[User.disabled.set(True)])
    assert _error(client.http.get("/api/me", headers=op.headers)) == (401, "unauthorized")


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe{}", b"[1,2]", b"[" * 3000 + b"]" * 3000])
def test_bad_login_bodies_are_400(client: Client, body: bytes) -> None:
    answer = client.http.post("/api/auth/login", headers=JSON, body=body)
    assert _error(answer) == (400, "invalid_json")


def test_login_body_over_the_cap_is_413(client: Client) -> None:
    answer = client.http.post(
        "/api/auth/login", headers=JSON, body=json.dumps({"email": "a@b.c", "password": "x" * 9000})
    )
    assert _error(answer) == (413, "payload_too_large")


def test_key_location_headers_are_ignored(client: Client, make_operator: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    op: Operator = make_operator()
    attacker = Ed25519PrivateKey.generate()
    for header in (
        {"jku": "https://evil.example/keys"},
        {"x5u": "https://evil.example/cert"},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
    ):
        forged = _forge(op, header, {}, key=attacker)
        assert client.http.get("/api/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        honest = _forge(op, header, {})  # our key: the extra header changes nothing
        assert client.http.get("/api/me", headers={"Authorization": f"Bearer {honest}"}).status_code == 200


def test_hs256_keyed_with_the_public_key_is_refused(client: Client, make_operator: Any) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    op: Operator = make_operator()
    kid, signer = keys.load(settings().token_key_secret).signer()
    public = signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    claims = jwt.decode(op.token, options={"verify_signature": False})
    head = _b64({"alg": "HS256", "typ": "at+jwt", "kid": kid})
    body = _b64(claims)
    import hashlib
    import hmac

    sig = base64.urlsafe_b64encode(hmac.new(public, f"{head}.{body}".encode(), hashlib.sha256).digest()).rstrip(b"=")
    token = f"{head}.{body}.{sig.decode()}"
    assert _error(client.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})) == (401, "unauthorized")


def test_not_yet_valid_token_is_refused(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    token = _forge(op, {}, {"nbf": int(time.time()) + 3600})
    assert _error(client.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})) == (401, "unauthorized")


def test_a_megabyte_authorization_header_is_refused_before_parsing(client: Client) -> None:
    answer = client.http.get("/api/me", headers={"Authorization": "Bearer " + "a" * 1024 * 1024})
    assert _error(answer) == (401, "unauthorized")
