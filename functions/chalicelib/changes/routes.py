"""Routes: where an open hosts page reads that its fleet changed (logic.py), and the old long poll."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .. import validate
from ..auth import guard
from ..web import Call, route
from . import logic

bp = Blueprint(__name__)
MAX_WAIT = 20  # seconds: API Gateway ends a request at 29


@route(bp, "/api/changes", authenticate=guard.reader)
def fleet_changes(call: Call) -> dict[str, Any]:
    """Without `wait`: the version and the feed the page polls. With `wait`: the long poll older clients hold."""
    after = call.query("after")
    since = None if after is None else validate.clamp(after, default=0, low=0, high=2**53, name="after")
    wait = validate.clamp(call.query("wait"), default=0, low=0, high=MAX_WAIT, name="wait")
    owner = guard.target_owner(call)
    if wait == 0:
        return logic.feed(owner)
    return {"version": logic.wait_for_change(owner, after=since, wait=wait)}
