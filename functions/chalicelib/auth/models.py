"""Operator accounts. Emails are made unique by a claim item in the same table."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model


class User(Model):
    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    role = UnicodeAttribute(default="operator")
    password_hash = UnicodeAttribute()
    token_version = NumberAttribute(default=1)
    disabled = BooleanAttribute(default=False)
    created_ms = NumberAttribute()


class EmailClaim(Model):
    """`user_id` = "email#<lowercased email>": a conditional put makes the email unique."""

    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    owner_user_id = UnicodeAttribute()
