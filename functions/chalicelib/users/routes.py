"""Routes: administrators create, list, change, disable and reset accounts."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .. import pagination, validate
from ..audit import logic as audit
from ..auth import guard
from ..auth import logic as auth
from ..auth.logic import Principal
from ..web import Call, route
from . import logic

bp = Blueprint(__name__)


def _audit(call: Call, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    who: Principal = call.principal
    audit.record(who.user_id, actor=who.user_id, action=action, target=target, source_ip=call.source_ip,
                 user_agent=call.user_agent, detail=detail)


@route(bp, "/api/users", authenticate=guard.administrator)
def list_users(call: Call) -> dict[str, Any]:
    limit = validate.clamp(call.query("limit"), default=50, low=1, high=100, name="limit")
    users, next_key = logic.page(limit, pagination.decode(call.query("cursor"), {"user_id": pagination.ANY_KEY}))
    return {"users": [auth.user_view(u) for u in users], "next": pagination.encode(next_key)}


@route(bp, "/api/users", ["POST"], authenticate=guard.administrator, status=201, max_body=8192)
def create_user(call: Call) -> dict[str, Any]:
    body = call.json()
    role = validate.text(body, "role", max_len=20) if "role" in body else "operator"
    user = auth.create_user(validate.text(body, "email", max_len=254), validate.text(body, "password", max_len=4096),
                            role, auth.parse_name(body))
    _audit(call, "user.create", user.user_id, {"role": role})
    return auth.user_view(user)


@route(bp, "/api/users/{user_id}", authenticate=guard.administrator)
def get_user(call: Call) -> dict[str, Any]:
    return auth.user_view(logic.existing(call.params["user_id"]))


@route(bp, "/api/users/{user_id}", ["PATCH"], authenticate=guard.administrator, max_body=4096)
def change_user(call: Call) -> dict[str, Any]:
    user, changes = logic.change(call.principal, call.params["user_id"], call.json())
    _audit(call, "user.update", user.user_id, changes)
    return auth.user_view(user)


@route(bp, "/api/users/{user_id}/password", ["POST"], authenticate=guard.administrator, max_body=8192)
def reset_password(call: Call) -> dict[str, Any]:
    user = logic.reset_password(call.params["user_id"], validate.text(call.json(), "new_password", max_len=4096))
    _audit(call, "user.password_reset", user.user_id)
    return auth.user_view(user)
