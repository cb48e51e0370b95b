"""Opaque page cursors: DynamoDB's LastEvaluatedKey, base64url JSON.

A cursor is checked on the way back in, so a forged one is a 400
`invalid_cursor`, never a 500: an object with exactly the expected names,
each a DynamoDB key value of its field's type (a string of the field's form,
or a number of at most 16 digits), and the fields that say whose page it is
(the owner, the VM) equal to the caller's. A cursor of another owner's page
is refused like a forged one, not served as a start key the query does not
fit (which DynamoDB refuses with an error).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import Invalid
from .ids import FORMS

# A field of a cursor: its DynamoDB type ("S" or "N") and the form of its value.
Field = tuple[str, re.Pattern[str]]
NUMBER: Field = ("N", re.compile(r"0|[1-9][0-9]{0,15}"))
# A key of a table whose items have several forms (the users table: accounts, email claims, versions).
ANY_KEY: Field = ("S", re.compile(r"[^\x00-\x1f\x7f]{1,300}"))
MAX_CURSOR = 2048


def string(kind: str) -> Field:
    """A field holding an id of the documented form `kind` (ids.FORMS)."""
    return "S", FORMS[kind].pattern


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).rstrip(b"=").decode()


def decode(cursor: str | None, fields: Mapping[str, Field]) -> dict[str, Any] | None:
    """The start key a cursor names, or None for the first page."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR:
        raise _forged()
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, RecursionError) as exc:
        raise _forged() from exc
    if not isinstance(value, dict) or set(value) != set(fields) \
            or not all(_is_key_value(value[name], fields[name]) for name in fields):
        raise _forged()
    return value


def continues(start: dict[str, Any] | None, **page: str) -> None:
    """Refuse a decoded cursor whose fields that say whose page it is (the owner, the VM) are not this
    request's. Separate from `decode`, so a route refuses a malformed cursor before it resolves (and
    audits) whose page is asked for."""
    if start is not None and any(start[name] != {"S": value} for name, value in page.items()):
        raise _forged()


def _forged() -> Invalid:
    return Invalid("The cursor is not one this API handed out.", "invalid_cursor")


def _is_key_value(value: Any, field: Field) -> bool:
    """One DynamoDB key attribute of the field's type and form: {"S": "..."} or {"N": "..."}."""
    kind, form = field
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(kind), str) \
        and form.fullmatch(value[kind]) is not None
