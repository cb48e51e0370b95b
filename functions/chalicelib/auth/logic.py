"""Accounts, login and who a request speaks for, without HTTP."""

from __future__ import annotations

import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import ids, store, validate
from ..audit import logic as audit
from ..errors import Conflict, Invalid, Unauthorized
from . import api_keys, passwords, sessions, throttle, tokens
from .models import EmailClaim, Session, User

ROLES = ("admin", "operator")


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    role: str
    # None for an interactive session (all the owner's rights); a key's scopes otherwise.
    scopes: frozenset[str] | None = None
    session_id: str | None = None
    key_id: str | None = None


class LoginRefused(Unauthorized):
    """The one answer to every failed login. `account_id` names the account the email belongs to (None
    when none does), for the audit trail only: the caller gets the same 401 either way."""

    def __init__(self, account_id: str | None) -> None:
        super().__init__("The email or password is not correct.", "invalid_credentials")
        self.account_id = account_id


@dataclass(frozen=True)
class Login:
    user: User
    access_token: str
    refresh_token: str
    session_id: str


MAX_EMAIL = 254
EMAIL_FORM = ("an address like name@example.com: one '@' with text on each side, no spaces, "
              f"at most {MAX_EMAIL} characters")


def normalise_email(email: str) -> str:
    """The one email rule, for creating an account and for logging in to it alike.

    Internationalised addresses (`zoë@exämple.com`, RFC 6531) are allowed, in Unicode NFC so that
    "ë" typed as one character or as "e" plus a diaeresis is the same account; the web app's forms use
    text inputs, since a browser's type=email takes ASCII only and would refuse at login an account
    that exists."""
    email = unicodedata.normalize("NFC", email.strip()).lower()
    local, _, domain = email.partition("@")
    if not local or not domain or "@" in domain or len(email) > MAX_EMAIL \
            or any(c.isspace() or not c.isprintable() for c in email):
        raise Invalid(f"'email' must be {EMAIL_FORM}.")
    return email


def find_by_email(email: str) -> User | None:
    claim = store.get_or_none(EmailClaim, f"email#{normalise_email(email)}", consistent_read=True)
    return None if claim is None else get_user(claim.owner_user_id)


def get_user(user_id: str) -> User | None:
    return store.get_or_none(User, user_id, consistent_read=True)


def create_user(email: str, password: str, role: str = "operator", name: str = "") -> User:
    email = normalise_email(email)
    passwords.check_rules(password, email)
    if role not in ROLES:
        raise Invalid(f"'role' must be one of {', '.join(ROLES)}.")
    user_id = "usr_" + uuid.uuid4().hex
    with store.race() as claim:
        EmailClaim(f"email#{email}", owner_user_id=user_id).save(condition=EmailClaim.user_id.does_not_exist())
    if claim.lost:
        raise Conflict("An account with that email already exists.", "email_taken") from claim.error
    user = User(user_id, email=email, name=name, role=role, password_hash=passwords.hash_password(password),
                created_ms=int(time.time() * 1000))
    user.save()
    return user


def ensure_user(email: str, password: str, role: str) -> User:
    """Create the account, or reset its password and role (the local stack's first admin)."""
    user = find_by_email(email)
    if user is None:
        return create_user(email, password, role)
    passwords.check_rules(password, user.email)
    user.update(actions=[User.password_hash.set(passwords.hash_password(password)),
                         User.role.set(role), User.disabled.set(False)])
    return user


def login(email: str, password: str, user_agent: str, source_ip: str) -> Login:
    """A new session, or the same Unauthorized for every failure (after similar work)."""
    if len(password) > passwords.MAX_LENGTH:
        raise Invalid(f"The password may be at most {passwords.MAX_LENGTH} characters.", "weak_password")
    slots = throttle.take(email, source_ip)
    try:
        user = find_by_email(email)
    except Invalid:
        user = None
    ok = passwords.verify_password(password, user.password_hash if user is not None else passwords.DUMMY_HASH)
    if user is None or not ok or user.disabled:
        raise LoginRefused(None if user is None else user.user_id)
    throttle.give_back(slots)
    if passwords.needs_rehash(user.password_hash):
        user.update(actions=[User.password_hash.set(passwords.hash_password(password))])
    return start_session(user, user_agent, source_ip)


def start_session(user: User, user_agent: str, source_ip: str) -> Login:
    session, refresh = sessions.create(user.user_id, user_agent, source_ip)
    return Login(user, tokens.issue(user.user_id, int(user.token_version), session.session_id), refresh,
                 session.session_id)


def refresh(refresh_token: str) -> Login:
    session, new_refresh = sessions.rotate(refresh_token)
    user = get_user(session.user_id)
    if user is None or user.disabled:
        sessions.revoke(session.session_id)
        raise sessions.expired()
    return Login(user, tokens.issue(user.user_id, int(user.token_version), session.session_id), new_refresh,
                 session.session_id)


def end_all_sessions(user: User) -> None:
    """Every refresh token and every access token of this user stops working."""
    user.update(actions=[User.token_version.add(1)])
    sessions.revoke_all(user.user_id)


def change_password(who: Principal, current: str, new: str, user_agent: str, source_ip: str) -> Login:
    user = get_user(who.user_id)
    if user is None:
        raise Unauthorized("The account no longer exists.")
    slots = throttle.take(user.email, source_ip)
    if not passwords.verify_password(current, user.password_hash):
        raise Invalid("The current password is not correct.", "invalid_credentials")
    throttle.give_back(slots)
    passwords.check_rules(new, user.email)
    user.update(actions=[User.password_hash.set(passwords.hash_password(new))])
    end_all_sessions(user)
    return start_session(user, user_agent, source_ip)


def principal_from_token(token: str, ahead: Sequence[store.ItemKey] = ()) -> tuple[Principal, list[Any]]:
    """Who a token speaks for, and the items `ahead` names (`store.read_together` keys), read in the
    same request as the credentials: a route that needs, say, the host it addresses pays no extra round
    trip. Every credential is read strongly consistent on every call, so that logout, a password change
    or a disabled account stops the token at once; nothing here is cached between requests."""
    if token.startswith(api_keys.PREFIX):
        return _principal_from_key(token, ahead)
    claims = tokens.verify(token)
    session_id, user_id = claims["sid"], claims["sub"]
    # Signed by us, so made by us; checked all the same before they become store keys.
    if not sessions.well_formed(session_id) or not ids.matches("user_id", user_id):
        raise Unauthorized("The session has ended; log in again.")
    user, session, *items = store.read_together((User, user_id), (Session, session_id), *ahead)
    if user is None or user.disabled or claims.get("ver") != user.token_version:
        raise Unauthorized("The session has ended; log in again.")
    sessions.check_live(session, user.user_id)
    return Principal(user.user_id, user.email, user.role, session_id=session_id), items


def _principal_from_key(secret: str, ahead: Sequence[store.ItemKey]) -> tuple[Principal, list[Any]]:
    key, used = api_keys.authenticate(secret)
    user, *items = store.read_together((User, key.owner_id), *ahead)
    if user is None or user.disabled:
        raise Unauthorized("The API key is not valid.")
    if used:
        audit.record(user.user_id, actor=f"key:{key.key_id}", action="api_key.use", target=key.key_id)
    return Principal(user.user_id, user.email, user.role, scopes=frozenset(key.scopes), key_id=key.key_id), items


def user_view(user: User) -> dict[str, Any]:
    return {"user_id": user.user_id, "email": user.email, "name": user.name, "role": user.role,
            "disabled": user.disabled, "created_ms": int(user.created_ms),
            "require_host_approval": user.require_host_approval}


def change_profile(user_id: str, body: dict[str, Any]) -> User:
    """The caller's own name and whether new hosts need their approval; nothing else is read."""
    user = get_user(user_id)
    if user is None:
        raise Unauthorized("The session has ended; log in again.")
    actions: list[Any] = []
    if "name" in body:
        actions.append(User.name.set(parse_name(body)))
    if "require_host_approval" in body:
        if not isinstance(body["require_host_approval"], bool):
            raise Invalid("'require_host_approval' must be true or false.")
        actions.append(User.require_host_approval.set(body["require_host_approval"]))
    if actions:
        user.update(actions=actions)
    return user


def parse_name(body: dict[str, Any]) -> str:
    return validate.text(body, "name", max_len=100, pattern=validate.LABEL_RE, required=False)
