"""Operator accounts. Emails are made unique by a claim item in the same table."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class User(Model):
    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    role = UnicodeAttribute(default="operator")
    password_hash = UnicodeAttribute()
    token_version = NumberAttribute(default=1)
    disabled = BooleanAttribute(default=False)
    created_ms = NumberAttribute()
    require_host_approval = BooleanAttribute(default=False)


class EmailClaim(Model):
    """`user_id` = "email#<lowercased email>": a conditional put makes the email unique."""

    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    owner_user_id = UnicodeAttribute()


class SessionsByUser(GlobalSecondaryIndex["Session"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_ms = NumberAttribute(range_key=True)


class Session(Model):
    """One login: the family of rotating refresh tokens it has handed out.

    Only hashes are stored: the current token's, and the previous ones' so that
    a reused old token is recognised (and ends the whole session).
    """

    class Meta:
        table_name = "sessions"

    session_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    previous_hashes = ListAttribute(of=UnicodeAttribute, default=list)
    created_ms = NumberAttribute()
    last_used_ms = NumberAttribute()
    expires_at = NumberAttribute()
    revoked = BooleanAttribute(default=False)
    user_agent = UnicodeAttribute(default="")
    source_ip = UnicodeAttribute(default="")
    by_user = SessionsByUser()


class ApiKeysByOwner(GlobalSecondaryIndex["ApiKey"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_ms = NumberAttribute(range_key=True)


class ApiKey(Model):
    """An automation key; only the SHA-256 of its secret is stored."""

    class Meta:
        table_name = "api-keys"

    key_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    name = UnicodeAttribute()
    prefix = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    scopes = UnicodeSetAttribute()
    created_ms = NumberAttribute()
    expires_ms = NumberAttribute(null=True)
    last_used_ms = NumberAttribute(null=True)
    revoked = BooleanAttribute(default=False)
    by_owner = ApiKeysByOwner()


class Throttle(Model):
    """A failure counter for one account or source address in one time window."""

    class Meta:
        table_name = "throttle"

    counter_id = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    expires_at = NumberAttribute()
