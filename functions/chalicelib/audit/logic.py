"""Writing audit records. There is no update or delete: the trail is append-only."""

from __future__ import annotations

import secrets
import time
from typing import Any

from .models import AuditRecord


def record(owner_id: str, *, actor: str, action: str, target: str = "", outcome: str = "ok",
           source_ip: str = "", user_agent: str = "", detail: dict[str, Any] | None = None) -> None:
    ts_id = f"{int(time.time() * 1000):013d}#{secrets.token_hex(6)}"
    AuditRecord(owner_id, ts_id, actor=actor, action=action, target=target, outcome=outcome,
                source_ip=source_ip, user_agent=user_agent, detail=detail or {}).save(
        condition=AuditRecord.ts_id.does_not_exist())
