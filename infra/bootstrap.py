"""First-start chores run inside the control plane's environment.

Creates the first admin, or resets its password and role, from
FLEETVISOR_BOOTSTRAP_PASSWORD (never argv, which `ps` shows), and optionally
mints a one-use enrolment token for the local agent. Prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os

from chalicelib import store
from chalicelib.agents import enrollment
from chalicelib.auth import logic as auth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--enrollment-token", action="store_true")
    args = parser.parse_args()
    store.bind()
    user = auth.ensure_user(args.email, os.environ["FLEETVISOR_BOOTSTRAP_PASSWORD"], "admin")
    out: dict[str, str] = {"user_id": user.user_id}
    if args.enrollment_token:
        out["enrollment_token"], _ = enrollment.mint_token(user.user_id, uses=1, ttl_seconds=3600)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
