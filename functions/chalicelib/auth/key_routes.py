"""Routes: the caller's API keys."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..audit import logic as audit
from ..web import Call, route
from . import api_keys, guard
from .logic import Principal

bp = Blueprint(__name__)


@route(bp, "/api/api-keys", authenticate=guard.reader)
def list_keys(call: Call) -> dict[str, Any]:
    return {"api_keys": [api_keys.view(k) for k in api_keys.list_owned(call.principal.user_id)]}


@route(bp, "/api/api-keys", ["POST"], authenticate=guard.owner_admin, status=201, max_body=4096)
def create_key(call: Call) -> dict[str, Any]:
    who: Principal = call.principal
    key, secret = api_keys.create(who.user_id, call.json())
    audit.record(who.user_id, actor=who.key_id and f"key:{who.key_id}" or who.user_id, action="api_key.create",
                 target=key.key_id, source_ip=call.source_ip, user_agent=call.user_agent,
                 detail={"scopes": sorted(key.scopes)})
    return {**api_keys.view(key), "secret": secret}


@route(bp, "/api/api-keys/{key_id}", ["DELETE"], authenticate=guard.owner_admin)
def revoke_key(call: Call) -> dict[str, Any]:
    who: Principal = call.principal
    key = api_keys.revoke(who.user_id, call.params["key_id"])
    audit.record(who.user_id, actor=who.user_id, action="api_key.revoke", target=key.key_id,
                 source_ip=call.source_ip, user_agent=call.user_agent)
    return api_keys.view(key)
