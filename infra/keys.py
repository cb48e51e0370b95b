"""Rotate the control plane's Ed25519 keyrings in Secrets Manager.

    python -m infra.keys init                 # a first keyring, for a stage's first deploy
    python -m infra.keys status               # the keys, which one signs, the serial, when it last changed
    python -m infra.keys add                  # step 1: a new key, announced to agents, not signing yet
    python -m infra.keys activate KID         # step 2: KID signs new jobs
    python -m infra.keys retire OLD_KID       # step 3: OLD_KID goes; agents drop it

Options: `--keyring job|token|seal` (the job-signing keys, the default, the
operator access-token keys, or the keys that seal secrets into job records:
a job still queued when its sealing key is retired fails at its claim), `--stage` (default $FLEETVISOR_STAGE or
`local`), `--local [DIR]` (a running local stack: its moto, found through
`DIR/endpoints.json`, and the launcher's own copy in `DIR/secrets/`, which it
puts back at every start; DIR defaults to $FLEETVISOR_HOME or `.fleetvisor`).
Without `--local` the tool talks to AWS (or to AWS_ENDPOINT_URL) with the
caller's own credentials: the functions only ever read the secret.

Each step waits for the one before to settle: warm Lambdas keep a keyring
for `key_cache_seconds` (5 min) and agents hear of a new key with their next
heartbeat (30 s), and a job signed just before an activation may be out for
a lease (2 min). So `activate` and `retire` refuse to run within
SETTLE_SECONDS (10 min) of the last step, unless `--force` (which the tests
use, with caches of one second). An agent that was offline for a whole
rotation (it never heard the new key before the old one retired) refuses
every later job as `unknown_kid` and has to enrol again; keep the overlap
between `add` and `retire` longer than any host is expected to be away.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.local import ENDPOINTS_FILE, FUNCTIONS, REPO, saved_secret_path, write_private

sys.path.insert(0, str(FUNCTIONS))
from chalicelib import keys  # noqa: E402 - the control plane owns the keyring format

SETTLE_SECONDS = 600
KEYRINGS = {"job": "job-signing-key", "token": "access-token-key", "seal": "sealing-key"}
EXIT_REFUSED = 2


@dataclass
class Secret:
    """One keyring secret: where it lives, and the local launcher's copy if there is one."""

    client: Any
    name: str
    saved: Path | None = None

    def read(self) -> keys.Keyring:
        return keys.parse(self.client.get_secret_value(SecretId=self.name)["SecretString"])

    def write(self, ring: keys.Keyring) -> None:
        value = keys.dump(ring)
        self.client.put_secret_value(SecretId=self.name, SecretString=value)
        if self.saved is not None:
            write_private(self.saved, value)


def secret_name(keyring: str, stage: str) -> str:
    return f"fleetvisor/{stage}/{KEYRINGS[keyring]}"


def secret_for(keyring: str, stage: str, local: Path | None) -> Secret:
    name = secret_name(keyring, stage)
    if local is None:
        return Secret(boto3.client("secretsmanager"), name)
    endpoints = json.loads((local / ENDPOINTS_FILE).read_text())
    client = boto3.client("secretsmanager", endpoint_url=endpoints["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    return Secret(client, name, saved_secret_path(local, name))


def step(ring: keys.Keyring, command: str, kid: str | None, prefix: str, *, now: int, force: bool,
         settle: int = SETTLE_SECONDS) -> tuple[keys.Keyring, str]:
    """The keyring after one rotation step, and what to tell the operator; KeyringError if it does not apply."""
    if command == "add":
        new, new_kid = keys.add_key(ring, prefix, now)
        return new, f"added {new_kid} (serial {new.serial}); activate it once every agent has heard of it"
    waited = now - ring.changed_at
    if waited < settle and not force:
        raise keys.KeyringError(f"the last step was {waited} s ago: wait {settle - waited} s more for every "
                                "Lambda and agent to see it (or --force)")
    assert kid is not None
    if command == "activate":
        return keys.activate(ring, kid, now), f"{kid} signs from now on; retire the old key once this settles"
    return keys.retire(ring, kid, now), f"retired {kid}; agents drop it with their next heartbeat"


def describe(ring: keys.Keyring) -> str:
    changed = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ring.changed_at))
    lines = [f"serial {ring.serial}, last changed {changed}"]
    lines += [f"  {kid}{'  (signs)' if kid == ring.active_kid else ''}" for kid in sorted(ring.private)]
    return "\n".join(lines)


def run(argv: Sequence[str] | None = None, *, now: int | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in ("activate", "retire") and not args.kid:
        parser.error(f"{args.command} needs the kid of a key (see `status`)")
    local = None if args.local is None else Path(args.local)
    secret = secret_for(args.keyring, args.stage, local)
    if args.command == "init":
        return _init(secret, args.keyring)
    ring = secret.read()
    if args.command == "status":
        print(describe(ring))
        return 0
    try:
        new, message = step(ring, args.command, args.kid, args.keyring, now=int(time.time()) if now is None else now,
                            force=args.force)
    except keys.KeyringError as exc:
        print(f"fleetvisor keys: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    secret.write(new)
    print(f"{message}\n{describe(new)}")
    return 0


def _init(secret: Secret, prefix: str) -> int:
    if ensure(secret, prefix):
        print(f"a new keyring for {secret.name}\n{describe(secret.read())}")
        return 0
    print(f"fleetvisor keys: {secret.name} holds a keyring already; rotate it instead", file=sys.stderr)
    return EXIT_REFUSED


def ensure(secret: Secret, prefix: str) -> bool:
    """Write the secret's first keyring unless it holds one already; True when it wrote one.
    A new stack's secrets exist without a value (GetSecretValue: ResourceNotFound)."""
    try:
        secret.read()
    except (ClientError, ValueError, KeyError, TypeError):
        secret.write(keys.parse(keys.new_secret_value(prefix)))
        return True
    return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.keys", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("init", "status", "add", "activate", "retire"))
    parser.add_argument("kid", nargs="?", help="the key to activate or retire")
    parser.add_argument("--keyring", choices=sorted(KEYRINGS), default="job")
    parser.add_argument("--stage", default=os.environ.get("FLEETVISOR_STAGE", "local"))
    parser.add_argument("--local", nargs="?", const=os.environ.get("FLEETVISOR_HOME", str(REPO / ".fleetvisor")),
                        default=None, metavar="DIR")
    parser.add_argument("--force", action="store_true", help="do not wait for the last step to settle")
    return parser


if __name__ == "__main__":
    raise SystemExit(run())
