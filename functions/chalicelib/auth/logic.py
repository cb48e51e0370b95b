"""Accounts and login, without HTTP."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, PutError

from ..errors import Conflict, Invalid, Unauthorized
from . import passwords, tokens
from .models import EmailClaim, User

ROLES = ("admin", "operator")


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    role: str


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise Invalid("'email' is not a valid email address.")
    return email


def check_password_rules(password: str, email: str) -> None:
    if len(password) > passwords.MAX_LENGTH:
        raise Invalid(f"The password may be at most {passwords.MAX_LENGTH} characters.")
    if len(password) < passwords.MIN_LENGTH:
        raise Invalid(f"The password must be at least {passwords.MIN_LENGTH} characters.")
    if password.strip().lower() == email:
        raise Invalid("The password must not be the email address.")


def find_by_email(email: str) -> User | None:
    try:
        claim = EmailClaim.get(f"email#{normalise_email(email)}", consistent_read=True)
        return User.get(claim.owner_user_id, consistent_read=True)
    except DoesNotExist:
        return None


def create_user(email: str, password: str, role: str = "operator") -> User:
    email = normalise_email(email)
    check_password_rules(password, email)
    if role not in ROLES:
        raise Invalid(f"'role' must be one of {', '.join(ROLES)}.")
    user_id = "usr_" + uuid.uuid4().hex
    try:
        EmailClaim(f"email#{email}", owner_user_id=user_id).save(
            condition=EmailClaim.user_id.does_not_exist())
    except PutError as exc:
        raise Conflict("An account with that email already exists.", "email_taken") from exc
    user = User(user_id, email=email, role=role, password_hash=passwords.hash_password(password),
                created_ms=int(time.time() * 1000))
    user.save()
    return user


def ensure_user(email: str, password: str, role: str) -> User:
    """Create the account, or reset its password and role (the local stack's first admin)."""
    user = find_by_email(email)
    if user is None:
        return create_user(email, password, role)
    check_password_rules(password, user.email)
    user.update(actions=[User.password_hash.set(passwords.hash_password(password)),
                         User.role.set(role), User.disabled.set(False)])
    return user


def login(email: str, password: str) -> tuple[User, str]:
    """The user and a fresh access token; the same Unauthorized for every failure."""
    if len(password) > passwords.MAX_LENGTH:
        raise Invalid(f"The password may be at most {passwords.MAX_LENGTH} characters.")
    try:
        user = find_by_email(email)
    except Invalid:
        user = None
    encoded = user.password_hash if user is not None else passwords.DUMMY_HASH
    ok = passwords.verify_password(password, encoded)
    if user is None or not ok or user.disabled:
        raise Unauthorized("The email or password is not correct.", "invalid_credentials")
    return user, tokens.issue(user.user_id, int(user.token_version))


def principal_from_token(token: str) -> Principal:
    claims = tokens.verify(token)
    try:
        user = User.get(str(claims["sub"]))
    except DoesNotExist as exc:
        raise Unauthorized("The access token is not valid.") from exc
    if user.disabled or claims.get("ver") != user.token_version:
        raise Unauthorized("The session has ended; log in again.")
    return Principal(user.user_id, user.email, user.role)


def generate_password() -> str:
    return secrets.token_urlsafe(18)
