"""Audit records, per owner, ordered by time (`ts_id` = "<ms>#<random>")."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.models import Model


class AuditRecord(Model):
    class Meta:
        table_name = "audit"

    owner_id = UnicodeAttribute(hash_key=True)
    ts_id = UnicodeAttribute(range_key=True)
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute(default="")
    outcome = UnicodeAttribute()
    source_ip = UnicodeAttribute(default="")
    user_agent = UnicodeAttribute(default="")
    detail = JSONAttribute(default=dict)
