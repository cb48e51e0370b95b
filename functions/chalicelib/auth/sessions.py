"""Login sessions and their rotating refresh tokens.

A refresh token is `<session_id>.<secret>`: opaque, 256 bits of secret, stored
only as a hash. Every refresh replaces it (one conditional write, so two
concurrent refreshes cannot both win); presenting an earlier token again means
it was copied, and ends the whole session. Sessions end after 12 h whatever
happens, and after 30 min without a refresh.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from .. import ids, store
from ..errors import Unauthorized
from ..settings import settings
from .models import Session

MAX_PREVIOUS = 50


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def expired() -> Unauthorized:
    return Unauthorized("The session has ended; log in again.", "session_expired")


def create(user_id: str, user_agent: str, source_ip: str) -> tuple[Session, str]:
    session_id = "ses_" + secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    now_ms = _now_ms()
    session = Session(session_id, user_id=user_id, token_hash=_hash(secret), created_ms=now_ms,
                      last_used_ms=now_ms, expires_at=now_ms // 1000 + settings().session_absolute_seconds,
                      user_agent=user_agent[:300], source_ip=source_ip[:64])
    session.save(condition=Session.session_id.does_not_exist())
    return session, f"{session_id}.{secret}"


def rotate(refresh_token: str) -> tuple[Session, str]:
    """The session and its next refresh token, or Unauthorized (and a reused token ends the session)."""
    session_id, _, secret = refresh_token.partition(".")
    session = _get(session_id)
    if session is None or not secret or not is_live(session):
        raise expired()
    presented = _hash(secret)
    if not hmac.compare_digest(presented, session.token_hash):
        if presented in session.previous_hashes:
            revoke(session.session_id)
            raise Unauthorized("This refresh token was already used; the session has been ended.",
                               "session_expired")
        raise expired()
    new_secret = secrets.token_urlsafe(32)
    previous: list[Any] = [*session.previous_hashes, session.token_hash][-MAX_PREVIOUS:]
    with store.race() as rotation:
        session.update(actions=[Session.token_hash.set(_hash(new_secret)), Session.previous_hashes.set(previous),
                                Session.last_used_ms.set(_now_ms())],
                       condition=(Session.token_hash == presented) & (Session.revoked == False))  # noqa: E712
    if rotation.lost:
        # Another refresh with the same token won the race: one of the two is a copy. (A throttled
        # write is a 503 instead: the token stays valid for the retry, and the session lives on.)
        revoke(session.session_id)
        raise expired() from rotation.error
    return session, f"{session.session_id}.{new_secret}"


def is_live(session: Session) -> bool:
    now_ms = _now_ms()
    idle_ms = settings().session_idle_seconds * 1000
    return (not session.revoked and session.expires_at > now_ms // 1000
            and now_ms - int(session.last_used_ms) < idle_ms)


def check_live(session: Session | None, user_id: str) -> None:
    """An access token lives only as long as the session it came from (read strongly consistent)."""
    if session is None or session.user_id != user_id or session.revoked \
            or session.expires_at <= time.time():
        raise Unauthorized("The session has ended; log in again.")


def revoke(session_id: str) -> None:
    """End a session; one that does not exist is ended already. A throttled write raises StoreBusy:
    an end the caller was told about must have happened."""
    with store.race():
        Session(session_id).update(actions=[Session.revoked.set(True)], condition=Session.session_id.exists())


def revoke_all(user_id: str) -> None:
    for session in Session.by_user.query(user_id, filter_condition=Session.revoked == False):  # noqa: E712
        revoke(session.session_id)


def list_live(user_id: str) -> list[Session]:
    return [s for s in Session.by_user.query(user_id, scan_index_forward=False) if is_live(s)]


def owned(user_id: str, session_id: str) -> Session | None:
    session = _get(session_id)
    return session if session is not None and session.user_id == user_id else None


def well_formed(session_id: object) -> bool:
    return ids.matches("session_id", session_id)


def _get(session_id: str) -> Session | None:
    if not well_formed(session_id):
        return None
    return store.get_or_none(Session, session_id, consistent_read=True)


def view(session: Session, current_id: str | None) -> dict[str, Any]:
    return {"session_id": session.session_id, "created_ms": int(session.created_ms),
            "last_used_ms": int(session.last_used_ms), "expires_ms": int(session.expires_at) * 1000,
            "user_agent": session.user_agent, "source_ip": session.source_ip,
            "current": session.session_id == current_id}
