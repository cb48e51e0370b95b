"""The documented form of every identifier that reaches us from outside, checked before any store call.

Every id the control plane hands out has a fixed prefix, alphabet and length
(where it is made is named beside each form). A value not of its form names
nothing, so it gets the answer an unknown id gets (404 with the object's own
code, or 400 `invalid_vm_name` for a VM) before anything is read: an empty or
2,048-byte key, a record of another kind sharing a table (`email#…` claims in
the users table), or characters of any kind never reach DynamoDB, which
refuses some of them with an error (a 500) and would find the others.

`web.route` checks every path parameter against FORMS, before credentials
are read (the forms are public, and the credential read is itself a store
call that items named by the path may join, see auth.guard.requires); a
route whose path names a parameter FORMS does not know fails at import. Page
cursors (pagination.py) and token subjects (auth, agents) use the same forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import validate
from .errors import FleetvisorError, Invalid, NotFound


@dataclass(frozen=True)
class IdForm:
    pattern: re.Pattern[str]
    refusal: Callable[[], FleetvisorError]

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None


def _hex(prefix: str, digits: int) -> re.Pattern[str]:
    return re.compile(rf"{prefix}[0-9a-f]{{{digits}}}")


FORMS: dict[str, IdForm] = {
    # "ag_" + uuid5 hex (agents/enrollment.agent_id_for)
    "agent_id": IdForm(_hex("ag_", 32), lambda: NotFound("No such host.", "agent_not_found")),
    # "job_" + uuid4 hex, or 32 hex of an idempotency hash (jobs/logic.create)
    "job_id": IdForm(_hex("job_", 32), lambda: NotFound("No such job.", "job_not_found")),
    # token_hex(16) (consoles/logic.open_session)
    "console_id": IdForm(_hex("", 32), lambda: NotFound("No such console session.", "console_not_found")),
    # "usr_" + uuid4 hex (auth/logic.create_user); the users table's other records have other keys
    "user_id": IdForm(_hex("usr_", 32), lambda: NotFound("No such account.", "user_not_found")),
    # token_hex(8) (auth/api_keys.create)
    "key_id": IdForm(_hex("", 16), lambda: NotFound("No such API key.", "api_key_not_found")),
    # the first 16 hex of the token's SHA-256 (agents/enrollment.mint_token)
    "token_id": IdForm(_hex("", 16), lambda: NotFound("No such enrolment token.", "enrollment_token_not_found")),
    # "ses_" + token_hex(16) (auth/sessions.create)
    "session_id": IdForm(_hex("ses_", 32), lambda: NotFound("No such session.", "session_not_found")),
    # A manifest's own id, as its author chose it (deployments/manifest-schema.json).
    "manifest_id": IdForm(re.compile(r"[a-z0-9][a-z0-9.-]{0,62}"),
                          lambda: NotFound("No such manifest.", "manifest_not_found")),
    # "sshk_" + 32 hex of the key's SHA-256 (deployments/ssh_keys.key_id)
    "ssh_key_id": IdForm(_hex("sshk_", 32), lambda: NotFound("No such SSH key.", "ssh_key_not_found")),
    # A VM's UUID (any case) or a name of the form vms/logic.py explains.
    "vm": IdForm(validate.LIBVIRT_NAME_RE, lambda: Invalid(
        "Name a VM by its UUID, or by a name of 1 to 64 letters, digits, '.', '_' or '-' that starts with a "
        "letter or digit.", "invalid_vm_name")),
}


def matches(kind: str, value: object) -> bool:
    return FORMS[kind].matches(value)


def check_path(params: Mapping[str, str]) -> None:
    """Refuse the first path parameter that is not of its documented form."""
    for name, value in params.items():
        form = FORMS[name]
        if not form.matches(value):
            raise form.refusal()


def known(path: str) -> None:
    """At registration: every parameter in a route's path has a form here."""
    for part in path.split("/"):
        if part.startswith("{") and part.strip("{}") not in FORMS:
            raise LookupError(f"{path}: path parameter {part} has no documented form in ids.FORMS")
