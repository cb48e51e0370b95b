"""Routes: reading the audit trail (there is no route that changes it)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .. import pagination, validate
from ..auth import guard
from ..web import Call, route
from . import logic, names

bp = Blueprint(__name__)
NEVER = 9_999_999_999_999
CURSOR_FIELDS = {"owner_id": pagination.ANY_KEY, "ts_id": ("S", logic.RECORD_ID_RE)}


@route(bp, "/api/audit", authenticate=guard.reader)
def list_audit(call: Call) -> dict[str, Any]:
    start = pagination.decode(call.query("cursor"), CURSOR_FIELDS)
    owner = guard.target_owner(call)
    limit = validate.clamp(call.query("limit"), default=50, low=1, high=100, name="limit")
    since = validate.clamp(call.query("since_ms"), default=0, low=0, high=NEVER, name="since_ms")
    until = validate.clamp(call.query("until_ms"), default=NEVER, low=0, high=NEVER, name="until_ms")
    action = (call.query("action") or "")[:100] or None
    pagination.continues(start, owner_id=owner)
    records, next_key = logic.page(owner, limit=limit, start=start, action=action, since_ms=since, until_ms=until)
    named = names.of(owner, records)
    return {"records": [logic.view(r, named) for r in records], "next": pagination.encode(next_key)}
