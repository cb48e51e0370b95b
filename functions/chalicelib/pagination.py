"""Opaque page cursors: DynamoDB's LastEvaluatedKey, base64url JSON.

A cursor is checked on the way back in (an object of string/number fields
with exactly the expected names), so a forged one is a 400, never a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import Invalid


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).rstrip(b"=").decode()


def decode(cursor: str | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if not cursor:
        return None
    bad = Invalid("The cursor is not one this API handed out.", "invalid_cursor")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor[:2048] + "=" * (-len(cursor[:2048]) % 4)))
    except (ValueError, TypeError) as exc:
        raise bad from exc
    if not isinstance(value, dict) or set(value) != set(fields) or not all(map(_is_key_value, value.values())):
        raise bad
    return value


def _is_key_value(value: Any) -> bool:
    """One DynamoDB key attribute: {"S": "..."} or {"N": "..."}."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N") \
        and isinstance(next(iter(value.values())), str)
