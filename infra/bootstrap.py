"""First-start chores run inside the control plane's environment.

Creates the first admin, or resets its password and role, from
FLEETVISOR_BOOTSTRAP_PASSWORD (never argv, which `ps` shows) — or, for a
deployed stage (`--unless-admin-exists`), only when the stage has no admin at
all, so a deploy never resets a password someone chose — and optionally
mints a one-use enrolment token for the local agent. Prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os

from chalicelib import store
from chalicelib.agents import enrollment
from chalicelib.auth import logic as auth
from chalicelib.users import logic as users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--enrollment-token", action="store_true")
    parser.add_argument("--unless-admin-exists", action="store_true",
                        help="create the admin only when the stage has no admin at all; never reset one (deploys)")
    args = parser.parse_args()
    store.bind()
    if args.unless_admin_exists and users.any_admin():
        print(json.dumps({"created": False}))
        return
    user = auth.ensure_user(args.email, os.environ["FLEETVISOR_BOOTSTRAP_PASSWORD"], "admin")
    out: dict[str, object] = {"user_id": user.user_id, "created": True}
    if args.enrollment_token:
        out["enrollment_token"], _ = enrollment.mint_token(user.user_id, uses=1, ttl_seconds=3600)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
