"""`fleetvisor` — hosts, VMs, jobs, deployments, manifests, SSH keys and accounts from a shell.

Works against the running local stack (found through `.fleetvisor/stack.json`,
api.py says how) and, given `--url` (or FLEETVISOR_URL) and credentials,
against a deployed stage. It prints tables and short lists for people and,
with `--json` (before or after the command), JSON for scripts. Secrets it
creates (API keys, tokens, generated passwords) are printed once and never
stored. Exit codes: fleet.py.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from . import deploying, fleet, library
from .api import Api, CliError, connect
from .output import Column, Shown, details, render, table

USER_COLUMNS = [Column("EMAIL", lambda u: u["email"], 32), Column("NAME", lambda u: u["name"], 20),
                Column("ROLE", lambda u: u["role"], 8), Column("DISABLED", lambda u: u["disabled"], 8),
                Column("ID", lambda u: u["user_id"], 36)]


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return secrets.token_urlsafe(18), True


def _user_by_email(api: Api, email: str) -> dict[str, Any]:
    cursor = ""
    while True:
        page = api.call("GET", f"/api/users?limit=100&cursor={cursor}")
        for user in page["users"]:
            if user["email"] == email.strip().lower():
                return dict(user)
        if not page["next"]:
            raise CliError(f"no account with email {email}")
        cursor = page["next"]


def list_users(api: Api, args: argparse.Namespace) -> Any:
    users: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.call("GET", f"/api/users?limit=100&cursor={cursor}")
        users += page["users"]
        if not page["next"]:
            return Shown({"users": users}, table(users, USER_COLUMNS))
        cursor = page["next"]


def create_user(api: Api, args: argparse.Namespace) -> Any:
    password, generated = _new_password(args)
    user = api.call("POST", "/api/users", {"email": args.new_email, "name": args.name, "role": args.role,
                                           "password": password})
    return {**user, "password": password} if generated else user


def reset_password(api: Api, args: argparse.Namespace) -> Any:
    user = _user_by_email(api, args.new_email)
    password, generated = _new_password(args)
    user = api.call("POST", f"/api/users/{user['user_id']}/password", {"new_password": password})
    return {**user, "password": password} if generated else user


def create_api_key(api: Api, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"name": args.name, "scopes": args.scope}
    if args.expires_in_days:
        body["expires_in_days"] = args.expires_in_days
    return api.call("POST", "/api/api-keys", body)


def create_enrollment_token(api: Api, args: argparse.Namespace) -> Any:
    token = api.call("POST", "/api/enrollment-tokens", {"uses": args.uses, "ttl_seconds": args.ttl, "note": args.note})
    token["install_command"] = f"curl -fsSL {api.url}/agent/install.sh | sudo bash -s -- --token {token['token']}"
    return token


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleetvisor", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="control plane URL (FLEETVISOR_URL; default: the running local stack, "
                                      "else http://127.0.0.1:8000)")
    parser.add_argument("--email", help="log in as (FLEETVISOR_EMAIL); the password comes from FLEETVISOR_PASSWORD "
                                        "or a prompt; FLEETVISOR_API_KEY instead of both")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    commands = parser.add_subparsers(dest="command", required=True)
    fleet.add_commands(commands, common)
    deploying.add_commands(commands, common)
    library.add_commands(commands, common)
    commands.add_parser("list-users", parents=[common], help="list accounts (admin)").set_defaults(run=list_users)
    user = commands.add_parser("create-user", parents=[common], help="create an account (admin)")
    user.add_argument("new_email", metavar="EMAIL")
    user.add_argument("--name", default="")
    user.add_argument("--role", choices=["operator", "admin"], default="operator")
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.set_defaults(run=create_user)
    reset = commands.add_parser("reset-password", parents=[common], help="set a new password for an account (admin)")
    reset.add_argument("new_email", metavar="EMAIL")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(run=reset_password)
    key = commands.add_parser("create-api-key", parents=[common], help="create an API key for yourself")
    key.add_argument("--name", required=True)
    key.add_argument("--scope", action="append", choices=["read", "operate", "admin"], required=True)
    key.add_argument("--expires-in-days", type=int)
    key.set_defaults(run=create_api_key)
    token = commands.add_parser("create-enrollment-token", parents=[common],
                                help="mint a token that lets a host enrol")
    token.add_argument("--uses", type=int, default=1)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.add_argument("--note", default="")
    token.set_defaults(run=create_enrollment_token)
    return parser


def _shown(result: Any) -> Shown:
    """An account command's answer (a plain object) as people read it: one line per field."""
    if isinstance(result, Shown):
        return result
    return Shown(result, details(sorted(result.items())))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        shown = _shown(args.run(connect(args.url, args.email), args))
    except CliError as exc:
        print(f"fleetvisor: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fleetvisor: interrupted", file=sys.stderr)
        return 130
    print(render(shown, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
