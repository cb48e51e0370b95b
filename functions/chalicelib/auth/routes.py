"""Routes: login and who-am-I."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .. import validate
from ..audit import logic as audit
from ..errors import Unauthorized
from ..settings import settings
from ..web import Call, route
from . import guard, logic

bp = Blueprint(__name__)


def _user(user: Any) -> dict[str, Any]:
    return {"user_id": user.user_id, "email": user.email, "role": user.role}


@route(bp, "/api/auth/login", ["POST"], max_body=8192)
def login(call: Call) -> dict[str, Any]:
    body = call.json()
    email = validate.text(body, "email", max_len=254)
    password = validate.text(body, "password", max_len=4096)
    try:
        user, token = logic.login(email, password)
    except Unauthorized:
        audit.record("anonymous", actor=email[:254], action="auth.login", outcome="denied",
                     source_ip=call.source_ip, user_agent=call.user_agent)
        raise
    audit.record(user.user_id, actor=user.user_id, action="auth.login",
                 source_ip=call.source_ip, user_agent=call.user_agent)
    return {"access_token": token, "token_type": "Bearer",
            "expires_in": settings().access_token_seconds, "user": _user(user)}


@route(bp, "/api/me", authenticate=guard.operator)
def me(call: Call) -> dict[str, Any]:
    who: logic.Principal = call.principal
    return {"user_id": who.user_id, "email": who.email, "role": who.role}
