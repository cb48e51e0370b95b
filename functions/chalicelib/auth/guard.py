"""The authentication and authorisation hooks operator routes pass through.

`requires(scope)` builds a route's hook: who is calling (a session's access
token or an API key), and whether that credential may do this: an API key
needs the scope (read ⊂ operate ⊂ admin), admin routes need the admin role,
and some routes need an interactive session, not a key.

A route may also name items it will need (`ahead`, e.g. the host in its
path): they are read in the same store request as the credentials and handed
over in `call.ahead`, keyed by model. Nothing is trusted from them yet: the
route still checks ownership, as it would after reading them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import store
from ..audit import logic as audit
from ..errors import Forbidden, Unauthorized
from ..web import Call
from . import api_keys
from .logic import Principal, principal_from_token

MAX_AUTHORIZATION = 8192


def bearer(call: Call) -> str:
    header = str(call.request.headers.get("authorization", ""))
    if len(header) > MAX_AUTHORIZATION:
        raise Unauthorized("The Authorization header is too large.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <access token or API key>'.")
    return token.strip()


def requires(scope: str, *, admin: bool = False, session: bool = False,
             ahead: Callable[[Call], Sequence[store.ItemKey]] | None = None) -> Callable[[Call], Principal]:
    def authenticate(call: Call) -> Principal:
        keys = ahead(call) if ahead is not None else ()
        who, items = principal_from_token(bearer(call), keys)
        call.ahead = {key[0]: item for key, item in zip(keys, items, strict=True)}
        if who.scopes is not None:
            if session:
                raise Forbidden("This needs a logged-in session, not an API key.", "session_required")
            if not api_keys.allows(set(who.scopes), scope):
                raise Forbidden(f"This API key lacks the '{scope}' scope.", "insufficient_scope")
        if admin and who.role != "admin":
            raise Forbidden("Only administrators may do this.", "admin_required")
        return who

    return authenticate


reader = requires("read")
operator = requires("operate")
owner_admin = requires("admin")
administrator = requires("admin", admin=True)
interactive = requires("admin", session=True)


def target_owner(call: Call) -> str:
    """Whose objects a list shows: the caller's, or with `?owner=` (admins only) someone else's."""
    who: Principal = call.principal
    owner = call.query("owner")
    if not owner or owner == who.user_id:
        return who.user_id
    if who.role != "admin":
        raise Forbidden("Only administrators may look at another owner's objects.", "admin_required")
    if who.scopes is not None and not api_keys.allows(set(who.scopes), "admin"):
        # Reading another owner's hosts is an admin power, not a read: a key needs the admin scope for it.
        raise Forbidden("This API key lacks the 'admin' scope, which reading another owner's objects needs.",
                        "insufficient_scope")
    owner = owner[:64]
    call.on_success.append(lambda: audit.record(
        who.user_id, actor=who.user_id, action="admin.read_other", target=owner, source_ip=call.source_ip,
        user_agent=call.user_agent, detail={"path": call.request.path}))
    return owner
