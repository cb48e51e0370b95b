"""Writing audit records. There is no update or delete: the trail is append-only."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from .models import AuditRecord

# A record's range key: its time in ms (13 digits) and 48 random bits (`entry`).
RECORD_ID_RE = re.compile(r"[0-9]{13}#[0-9a-f]{12}")


def record(owner_id: str, *, actor: str, action: str, target: str = "", outcome: str = "ok",
           source_ip: str = "", user_agent: str = "", detail: dict[str, Any] | None = None) -> None:
    entry(owner_id, actor=actor, action=action, target=target, outcome=outcome, source_ip=source_ip,
          user_agent=user_agent, detail=detail).save(condition=AuditRecord.ts_id.does_not_exist())


def entry(owner_id: str, *, actor: str, action: str, target: str = "", outcome: str = "ok",
          source_ip: str = "", user_agent: str = "", detail: dict[str, Any] | None = None) -> AuditRecord:
    """A record not yet written, for a caller that writes it together with what it records. Its id
    is the time and 48 random bits, so an unconditional put of it overwrites nothing."""
    ts_id = f"{int(time.time() * 1000):013d}#{secrets.token_hex(6)}"
    return AuditRecord(owner_id, ts_id, actor=actor, action=action, target=target, outcome=outcome,
                       source_ip=source_ip, user_agent=user_agent, detail=detail or {})


def page(owner_id: str, *, limit: int, start: dict[str, Any] | None, action: str | None,
         since_ms: int | None, until_ms: int | None) -> tuple[list[AuditRecord], dict[str, Any] | None]:
    """Newest first; `action` keeps the records whose action contains it, in any case ("auth" finds
    auth.login and auth.logout, "login" finds auth.login)."""
    low = f"{since_ms or 0:013d}"
    high = f"{until_ms if until_ms is not None else 9_999_999_999_999:013d}~"
    condition = None
    if action:
        condition = AuditRecord.action.contains(action.strip().lower())
    result = AuditRecord.query(owner_id, AuditRecord.ts_id.between(low, high), filter_condition=condition,
                               scan_index_forward=False, limit=limit, last_evaluated_key=start)
    records = list(result)
    return records, result.last_evaluated_key


def view(record: AuditRecord, names: dict[str, str] | None = None) -> dict[str, Any]:
    """`actor_name` and `target_name`: what `names` (audit.names.of) calls the actor and target; null when
    nothing does."""
    names = names or {}
    return {"record_id": record.ts_id, "ts_ms": int(record.ts_id.split("#")[0]), "actor": record.actor,
            "actor_name": names.get(record.actor), "target_name": names.get(record.target),
            "action": record.action, "target": record.target, "outcome": record.outcome,
            "source_ip": record.source_ip, "user_agent": record.user_agent, "detail": record.detail}
