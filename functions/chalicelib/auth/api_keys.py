"""API keys for automation: `fv_<key id>_<secret>`, shown once, stored as a hash.

A key carries scopes (read ⊂ operate ⊂ admin) but never more than its owner
has: the owner's role and account state are checked on every use.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import Any

from .. import ids, store, validate
from ..errors import Invalid, NotFound, StoreBusy, Unauthorized
from .models import ApiKey

log = logging.getLogger("fleetvisor.auth")

SCOPES = ("read", "operate", "admin")
SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES, start=1)}
PREFIX = "fv_"
TOUCH_EVERY_MS = 60_000
MAX_KEYS = 100
# What `create` hands out: the prefix, the key id, and token_urlsafe(32) (43 characters; some room kept).
SECRET_RE = re.compile(rf"{PREFIX}({ids.FORMS['key_id'].pattern.pattern})_[A-Za-z0-9_-]{{20,100}}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(owner_id: str, body: dict[str, Any]) -> tuple[ApiKey, str]:
    name = validate.text(body, "name", max_len=100, pattern=validate.LABEL_RE)
    scopes = validate.array(body, "scopes", max_items=len(SCOPES))
    if not scopes or any(s not in SCOPES for s in scopes):
        raise Invalid(f"'scopes' must list one or more of {', '.join(SCOPES)}.")
    # Absent or null: never expires. Anything else must be a whole number of days (0, false, "" or [] is a
    # mistake, not "never").
    days = validate.integer(body, "expires_in_days", low=1, high=3650) if body.get("expires_in_days") is not None \
        else None
    if sum(1 for _ in ApiKey.by_owner.query(owner_id)) >= MAX_KEYS:
        raise Invalid(f"An account may hold at most {MAX_KEYS} API keys.", "too_many_keys")
    key_id = secrets.token_hex(8)
    secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now_ms = int(time.time() * 1000)
    key = ApiKey(key_id, owner_id=owner_id, name=name, prefix=secret[:11], secret_hash=_hash(secret),
                 scopes=set(scopes), created_ms=now_ms,
                 expires_ms=now_ms + days * 86_400_000 if days else None)
    key.save(condition=ApiKey.key_id.does_not_exist())
    return key, secret


def authenticate(secret: str) -> tuple[ApiKey, bool]:
    """The live key a secret belongs to, and whether this use was recorded (at most once a minute)."""
    invalid = Unauthorized("The API key is not valid.")
    form = SECRET_RE.fullmatch(secret)
    if form is None:
        raise invalid  # not one we made: no store call for it
    key = store.get_or_none(ApiKey, form.group(1))
    if key is None:
        raise invalid
    now_ms = int(time.time() * 1000)
    if not hmac.compare_digest(_hash(secret), key.secret_hash) or key.revoked \
            or (key.expires_ms is not None and key.expires_ms <= now_ms):
        raise invalid
    return key, _touch(key, now_ms)


def _touch(key: ApiKey, now_ms: int) -> bool:
    if key.last_used_ms is not None and now_ms - key.last_used_ms < TOUCH_EVERY_MS:
        return False
    try:
        with store.race() as touch:
            key.update(actions=[ApiKey.last_used_ms.set(now_ms)],
                       condition=ApiKey.last_used_ms.does_not_exist() | (ApiKey.last_used_ms < now_ms - TOUCH_EVERY_MS))
    except StoreBusy:
        # Only a "last used" stamp: failing the request it authenticates for it would cost more than
        # the stamp is worth, and the key's next use records it.
        log.warning("API key use not recorded, the store is throttling: key_id=%s", key.key_id)
        return False
    return not touch.lost


def list_owned(owner_id: str) -> list[ApiKey]:
    return list(ApiKey.by_owner.query(owner_id, scan_index_forward=False))


def revoke(owner_id: str, key_id: str) -> ApiKey:
    key = store.get_or_none(ApiKey, key_id)
    if key is None or key.owner_id != owner_id:
        raise NotFound("No such API key.", "api_key_not_found")
    key.update(actions=[ApiKey.revoked.set(True)])
    return key


def allows(scopes: set[str], needed: str) -> bool:
    return max((SCOPE_RANK.get(s, 0) for s in scopes), default=0) >= SCOPE_RANK[needed]


def view(key: ApiKey) -> dict[str, Any]:
    return {"key_id": key.key_id, "name": key.name, "prefix": key.prefix, "scopes": sorted(key.scopes),
            "created_ms": int(key.created_ms), "expires_ms": _int(key.expires_ms),
            "last_used_ms": _int(key.last_used_ms), "revoked": key.revoked}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
