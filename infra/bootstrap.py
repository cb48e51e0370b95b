"""First-start chores run inside the control plane's environment.

Creates the first admin, or resets its password and role, from
FLEETVISOR_BOOTSTRAP_PASSWORD (never argv, which `ps` shows) — or, for a
deployed stage (`--unless-admin-exists`), only when the stage has no admin at
all, so a deploy never resets a password someone chose; with `--keep-password`
(`make up` without FLEETVISOR_ADMIN_PASSWORD) the admin is created when
missing but an existing one keeps the password it has — and optionally
mints a one-use enrolment token for the local agent. Prints JSON on stdout
("password_works": whether the given password logs the admin in now).
"""

from __future__ import annotations

import argparse
import json
import os

from chalicelib import store
from chalicelib.agents import enrollment
from chalicelib.auth import logic as auth
from chalicelib.auth import passwords
from chalicelib.users import logic as users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--enrollment-token", action="store_true")
    parser.add_argument("--keep-password", action="store_true",
                        help="create the admin if missing; never change an existing one's password (make up)")
    parser.add_argument("--unless-admin-exists", action="store_true",
                        help="create the admin only when the stage has no admin at all; never reset one (deploys)")
    args = parser.parse_args()
    store.bind()
    if args.unless_admin_exists and users.any_admin():
        print(json.dumps({"created": False}))
        return
    password = os.environ["FLEETVISOR_BOOTSTRAP_PASSWORD"]
    existing = auth.find_by_email(args.email) if args.keep_password else None
    user = existing or auth.ensure_user(args.email, password, "admin")
    works = existing is None or passwords.verify_password(password, existing.password_hash)
    out: dict[str, object] = {"user_id": user.user_id, "created": True, "password_works": works}
    if args.enrollment_token:
        out["enrollment_token"], _ = enrollment.mint_token(user.user_id, uses=1, ttl_seconds=3600)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
