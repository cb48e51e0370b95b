"""Routes: login, refresh, logout, signup, and the caller's own account."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .. import validate
from ..audit import logic as audit
from ..errors import FleetvisorError, Forbidden, NotFound, Unauthorized
from ..settings import settings
from ..web import Call, Reply, route
from . import guard, logic, sessions

bp = Blueprint(__name__)
COOKIE = "fv_refresh"
COOKIE_PATH = "/api/auth"


def _cookie(value: str, max_age: int) -> dict[str, str]:
    secure = "; Secure" if settings().secure_cookies else ""
    return {"Set-Cookie": f"{COOKIE}={value}; HttpOnly; SameSite=Strict; Path={COOKIE_PATH}; "
                          f"Max-Age={max_age}{secure}"}


def _session_reply(login: logic.Login, status: int = 200) -> Reply:
    body = {"access_token": login.access_token, "token_type": "Bearer",
            "expires_in": settings().access_token_seconds, "user": logic.user_view(login.user)}
    return Reply(body, status, _cookie(login.refresh_token, settings().session_absolute_seconds))


def _audit(call: Call, owner: str, action: str, outcome: str = "ok", *, target: str = "",
           actor: str | None = None, detail: dict[str, Any] | None = None) -> None:
    audit.record(owner, actor=actor or owner, action=action, target=target, outcome=outcome,
                 source_ip=call.source_ip, user_agent=call.user_agent, detail=detail)


ANONYMOUS = "anonymous"  # whose trail holds what no account owns


@route(bp, "/api/auth/login", ["POST"], max_body=8192)
def login(call: Call) -> Reply:
    body = call.json()
    email = validate.text(body, "email", max_len=254)
    password = validate.text(body, "password", max_len=4096)
    try:
        result = logic.login(email, password, call.user_agent, call.source_ip)
    except FleetvisorError as exc:
        # A wrong password for an existing account goes into that account's own trail (the answer is the
        # same 401 either way); the rest (no such account, throttled, malformed) under "anonymous", which
        # an admin reads with ?owner=anonymous.
        account = exc.account_id if isinstance(exc, logic.LoginRefused) else None
        _audit(call, account or ANONYMOUS, "auth.login", "denied", actor=email[:254], detail={"code": exc.code})
        raise
    _audit(call, result.user.user_id, "auth.login", target=result.session_id)
    return _session_reply(result)


@route(bp, "/api/auth/refresh", ["POST"], max_body=1024)
def refresh(call: Call) -> Reply:
    # A cross-site form cannot set this header; with SameSite=Strict it closes CSRF on refresh.
    if call.request.headers.get("x-requested-with") != "fleetvisor":
        raise Forbidden("Refresh needs the header 'X-Requested-With: fleetvisor'.", "csrf_check_failed")
    token = call.cookie(COOKIE)
    if not token or len(token) > 200:
        raise sessions.expired()
    try:
        return _session_reply(logic.refresh(token))
    except Unauthorized as exc:
        exc.headers = _cookie("", 0)
        raise


@route(bp, "/api/auth/logout", ["POST"], authenticate=guard.interactive, max_body=1024)
def logout(call: Call) -> Reply:
    who: logic.Principal = call.principal
    if who.session_id:
        sessions.revoke(who.session_id)
    _audit(call, who.user_id, "auth.logout", target=who.session_id or "")
    return Reply({}, 200, _cookie("", 0))


@route(bp, "/api/auth/logout-all", ["POST"], authenticate=guard.interactive, max_body=1024)
def logout_all(call: Call) -> Reply:
    who: logic.Principal = call.principal
    user = logic.get_user(who.user_id)
    if user is not None:
        logic.end_all_sessions(user)
    _audit(call, who.user_id, "auth.logout_all")
    return Reply({}, 200, _cookie("", 0))


@route(bp, "/api/auth/signup", ["POST"], status=201, max_body=8192)
def signup(call: Call) -> dict[str, Any]:
    if not settings().signup_enabled:
        raise Forbidden("Accounts are created by an administrator here.", "signup_disabled")
    body = call.json()
    user = logic.create_user(validate.text(body, "email", max_len=254), validate.text(body, "password", max_len=4096),
                             "operator", logic.parse_name(body))
    _audit(call, user.user_id, "auth.signup", target=user.user_id)
    return logic.user_view(user)


@route(bp, "/api/me", authenticate=guard.reader)
def me(call: Call) -> dict[str, Any]:
    user = logic.get_user(call.principal.user_id)
    if user is None:
        raise Unauthorized("The session has ended; log in again.")
    return logic.user_view(user)


@route(bp, "/api/me", ["PATCH"], authenticate=guard.interactive, max_body=4096)
def change_me(call: Call) -> dict[str, Any]:
    user = logic.change_profile(call.principal.user_id, call.json())
    _audit(call, user.user_id, "user.profile_update",
           detail={"require_host_approval": user.require_host_approval, "name": user.name})
    return logic.user_view(user)


@route(bp, "/api/me/password", ["POST"], authenticate=guard.interactive, max_body=8192)
def change_password(call: Call) -> Reply:
    body = call.json()
    result = logic.change_password(call.principal, validate.text(body, "current_password", max_len=4096),
                                   validate.text(body, "new_password", max_len=4096),
                                   call.user_agent, call.source_ip)
    _audit(call, result.user.user_id, "auth.password_change")
    return _session_reply(result)


@route(bp, "/api/me/sessions", authenticate=guard.interactive)
def list_sessions(call: Call) -> dict[str, Any]:
    who: logic.Principal = call.principal
    return {"sessions": [sessions.view(s, who.session_id) for s in sessions.list_live(who.user_id)]}


@route(bp, "/api/me/sessions/{session_id}", ["DELETE"], authenticate=guard.interactive)
def revoke_session(call: Call) -> dict[str, Any]:
    who: logic.Principal = call.principal
    session = sessions.owned(who.user_id, call.params["session_id"])
    if session is None:
        raise NotFound("No such session.", "session_not_found")
    sessions.revoke(session.session_id)
    _audit(call, who.user_id, "auth.session_revoke", target=session.session_id)
    return {}
