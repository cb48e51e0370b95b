"""Account administration, without HTTP."""

from __future__ import annotations

from typing import Any

from .. import validate
from ..auth import logic as auth
from ..auth import passwords
from ..auth.logic import Principal
from ..auth.models import User
from ..errors import Conflict, Invalid, NotFound


def existing(user_id: str) -> User:
    user = auth.get_user(user_id[:64])
    if user is None:
        raise NotFound("No such account.", "user_not_found")
    return user


def page(limit: int, start: dict[str, Any] | None) -> tuple[list[User], dict[str, Any] | None]:
    """Accounts in storage order; the table holds email claims too, which are skipped."""
    result = User.scan(User.email.exists(), limit=limit, last_evaluated_key=start)
    users = list(result)
    return users, result.last_evaluated_key


def change(who: Principal, user_id: str, body: dict[str, Any]) -> tuple[User, dict[str, Any]]:
    """Name, role and disabled; nothing else in the body is read (ids, owner, email stay)."""
    user = existing(user_id)
    actions: list[Any] = []
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = auth.parse_name(body)
        actions.append(User.name.set(changes["name"]))
    if "role" in body:
        role = validate.text(body, "role", max_len=20)
        if role not in auth.ROLES:
            raise Invalid(f"'role' must be one of {', '.join(auth.ROLES)}.")
        changes["role"] = role
        actions.append(User.role.set(role))
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise Invalid("'disabled' must be true or false.")
        changes["disabled"] = body["disabled"]
        actions.append(User.disabled.set(body["disabled"]))
    if user.user_id == who.user_id and (changes.get("disabled") or changes.get("role", "admin") != "admin"):
        raise Conflict("Administrators cannot disable themselves or drop their own role.", "cannot_change_self")
    if actions:
        user.update(actions=actions)
    if changes.get("disabled") or "role" in changes:
        auth.end_all_sessions(user)
    return user, changes


def reset_password(user_id: str, new_password: str) -> User:
    user = existing(user_id)
    passwords.check_rules(new_password, user.email)
    user.update(actions=[User.password_hash.set(passwords.hash_password(new_password))])
    auth.end_all_sessions(user)
    return user


def any_admin() -> bool:
    """Whether an enabled admin account exists (a deploy creates the first one only when none does)."""
    return any(not user.disabled for user in User.scan(User.email.exists() & (User.role == "admin")))
