"""The per-owner change counter (kept in the users table, as EmailClaim is)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model


class FleetVersion(Model):
    """`user_id` = "changes#<owner_id>": bumped whenever what the owner's hosts page shows has changed."""

    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(default=0)
