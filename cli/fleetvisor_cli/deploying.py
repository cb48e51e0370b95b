"""Deploying a VM from a profile: `fleetvisor deploy HOST PROFILE --input NAME=VALUE ... [--wait]`.

HOST is a host's name or id (as for `vms`), PROFILE a profile's id
(`fleetvisor profiles`). Inputs come from `--inputs-file` (a YAML or JSON
mapping of input names to values) and then each `--input NAME=VALUE` on top.
A value given as text becomes what the profile's inputs schema says the input
is (integer and port: a whole number; boolean: true/false, yes/no, 1/0); one
that does not convert is sent as written, for the API to refuse with its
reason. An ssh-key input takes a key's text, a stored key's id (`sshk_…`,
`fleetvisor ssh-keys list`) or `@PATH`, a public key file (one key a line);
an input that takes several values takes one per `--input` (repeat it).
`INSTALLER.NAME=VALUE` is an input of an installer chosen with `--installer`
(input names have no dots; installer ids may). `--vcpus`, `--memory` (MiB,
or with a unit: 4GiB) and `--disk` (GiB, or 40GiB, 1TiB) replace the
profile's default sizing; `--name` the VM's name (default: the profile's name
input, e.g. the host name). `--network NAME` puts the VM's NIC on another
libvirt network of the host than the profile's; each `--forward
HOST_PORT:GUEST_PORT[@ADDRESS]` (repeatable) puts it instead on QEMU's
user-mode NIC, no bridge, with that TCP port of the host (on ADDRESS, an IPv4
address of the host, 127.0.0.1 unless given) forwarded to the guest's.

The API checks everything again (it is the judge): a refusal prints every
failing field (`inputs.hostname: why`) and queues nothing. Accepted, the
command prints the queued job; with `--wait` it prints each new step the job
reports (`downloading 40%`, `first_boot`, ...) and at the end the hand-off:
the VM, its addresses and forwards, who logs in and `ssh user@address` (or,
from a forward to port 22, `ssh -p PORT user@ADDRESS`: on 127.0.0.1 from
the host itself, or through it with `ssh -J`), each installer's
exit code in words. A password the API generated (Windows, left empty) is
answered once: it is printed with the job, or with `--wait` at the end, or
on standard error if the wait is cut short. Exit codes as fleet.py's.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, TextIO

import yaml

from .api import Api, CliError
from .fleet import find_host, job_shown, unsuccessful
from .library import catalogue, read_text
from .output import Shown, details, text

USAGE = 2
TRUE, FALSE = frozenset({"true", "yes", "1", "on"}), frozenset({"false", "no", "0", "off"})
SIZE = re.compile(r"^\s*([0-9]+)\s*(MiB|M|MB|GiB|G|GB|TiB|T|TB)?\s*$", re.IGNORECASE)
UNIT_MIB = {"m": 1, "g": 1024, "t": 1024 * 1024}
FORWARD = re.compile(r"^([0-9]+):([0-9]+)(?:@([^@]+))?$")
# A forward as the deploy job's result writes it: "127.0.0.1:2222->22/tcp".
FORWARDED = re.compile(r"^(?P<address>[^:]+):(?P<host_port>[0-9]+)->(?P<guest_port>[0-9]+)/tcp$")
LOOPBACK, ANY_ADDRESS = "127.0.0.1", "0.0.0.0"  # noqa: S104 - a forward's address as the job reports it
NO_ADDRESS_YET = "none known yet (the network's DHCP leases)"


# -- the request --------------------------------------------------------------------------------------

def _schemas(api: Api, args: argparse.Namespace) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The profile (None when you have no such profile: the API says so) and the chosen installers' inputs schemas."""
    profile = next((p for p in catalogue(api, "profile") if p["id"] == args.profile), None)
    installers = {i["id"]: i["inputs_schema"] for i in catalogue(api, "installer")} if args.installer else {}
    return profile, installers


def _convert(spec: dict[str, Any], raw: Any) -> Any:
    """A value written as text → what its input's schema (`x-kind`) takes; anything else as it is."""
    if not isinstance(raw, str):
        return raw
    kind = spec.get("x-kind")
    if kind in ("integer", "port") and re.fullmatch(r"-?[0-9]+", raw.strip()):
        return int(raw)
    if kind == "boolean" and raw.strip().lower() in TRUE | FALSE:
        return raw.strip().lower() in TRUE
    if kind == "ssh-key" and raw.startswith("@"):
        keys = [line.strip() for line in read_text(raw[1:]).splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
        if not keys:
            raise CliError(f"{raw[1:]} holds no public key", exit_code=USAGE)
        return keys
    return raw


class Inputs:
    """The values of the profile's inputs and of each chosen installer's, as they are gathered."""

    def __init__(self, profile: dict[str, Any] | None, installers: dict[str, dict[str, Any]], chosen: list[str]):
        self.schemas = {"": profile["inputs_schema"] if profile else {}, **installers}
        self.values: dict[str, dict[str, Any]] = {"": {}, **{installer: {} for installer in chosen}}
        self.repeated: set[str] = set()  # names given by --input (and their installer), whose values add up

    def put(self, key: str, raw: Any, *, repeatable: bool) -> None:
        owner, _, name = key.rpartition(".")
        if owner not in self.values:
            raise CliError(f"{key!r}: {owner!r} is not an installer chosen with --installer", exit_code=USAGE)
        spec = self.schemas.get(owner, {}).get("properties", {}).get(name, {})
        value, values = _convert(spec, raw), self.values[owner]
        if spec.get("type") == "array":
            value = value if isinstance(value, list) else [value]
            if repeatable and key in self.repeated:
                value = [*values[name], *value]
            if repeatable:
                self.repeated.add(key)
        elif isinstance(value, list) and isinstance(raw, str):  # keys read from @FILE for an input of one key
            if len(value) != 1:
                raise CliError(f"{key!r}: the file holds {len(value)} keys; this input takes one", exit_code=USAGE)
            value = value[0]
        values[name] = value

    def body(self, chosen: list[str]) -> tuple[dict[str, Any], list[Any]]:
        installers = [{"id": i, "inputs": self.values[i]} if self.values[i] else i for i in chosen]
        return self.values[""], installers


def _from_file(path: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not YAML or JSON: {exc}", exit_code=USAGE) from exc
    if not isinstance(loaded, dict):
        raise CliError(f"{path} must hold a mapping of input names to values", exit_code=USAGE)
    return {str(key): value for key, value in loaded.items()}


def _mib(raw: str, default_unit: str, what: str) -> int:
    match = SIZE.match(raw)
    if match is None:
        raise CliError(f"{what} {raw!r}: write a size such as 4096, 4GiB or 512MiB", exit_code=USAGE)
    return int(match.group(1)) * UNIT_MIB[(match.group(2) or default_unit)[0].lower()]


def sizing(args: argparse.Namespace) -> dict[str, int]:
    out = {} if args.vcpus is None else {"vcpus": args.vcpus}
    if args.memory is not None:
        out["memory_mib"] = _mib(args.memory, "M", "--memory")
    if args.disk is not None:
        mib = _mib(args.disk, "G", "--disk")
        if mib % 1024:
            raise CliError(f"--disk {args.disk!r}: disks are sized in whole GiB", exit_code=USAGE)
        out["disk_gib"] = mib // 1024
    return out


def network(args: argparse.Namespace) -> str | dict[str, Any] | None:
    """The deployment's `network` (plan.py's shape), None for the profile's own. Port numbers out of range
    are the API's to refuse (its reason names the forward); what is not even a number is refused here."""
    if args.network is not None and args.forward:
        raise CliError("--network and --forward do not go together: any --forward means QEMU's user-mode NIC",
                       exit_code=USAGE)
    if not args.forward:
        return args.network
    forwards = []
    for given in args.forward:
        match = FORWARD.match(given.strip())
        if match is None:
            raise CliError(f"--forward {given!r}: write HOST_PORT:GUEST_PORT or HOST_PORT:GUEST_PORT@ADDRESS",
                           exit_code=USAGE)
        forward: dict[str, Any] = {"host_port": int(match.group(1)), "guest_port": int(match.group(2))}
        if match.group(3):
            forward["address"] = match.group(3)
        forwards.append(forward)
    return {"mode": "user", "forwards": forwards}


def request(api: Api, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The deployment's body (plan.py's shape) and the profile it names, when you have it."""
    wanted = sizing(args)
    profile, installers = _schemas(api, args)
    gathered = Inputs(profile, installers, args.installer)
    for key, value in (_from_file(args.inputs_file) if args.inputs_file else {}).items():
        gathered.put(key, value, repeatable=False)
    for pair in args.input:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{pair!r}: write inputs as NAME=VALUE (or INSTALLER.NAME=VALUE)", exit_code=USAGE)
        gathered.put(key, raw, repeatable=True)
    inputs, chosen = gathered.body(args.installer)
    body: dict[str, Any] = {"profile": args.profile, "inputs": inputs, "installers": chosen, "sizing": wanted}
    if args.name:
        body["name"] = args.name
    nic = network(args)
    if nic is not None:
        body["network"] = nic
    return body, profile


# -- following the job and the hand-off -----------------------------------------------------------------

def _step(job: dict[str, Any]) -> str:
    """`running downloading 40%`, `first_boot (installer nginx: ok)`; at the end `succeeded`, or where it
    stopped: `failed at downloading (URL)`."""
    progress = job.get("progress") or {}
    if job["status"] == "succeeded":
        return "succeeded"
    words = [job["status"]]
    if progress.get("step"):
        words.append(f"at {progress['step']}" if job.get("final") else str(progress["step"]))
    if isinstance(progress.get("percent"), int) and not job.get("final"):
        words.append(f"{progress['percent']}%")
    if progress.get("detail"):
        words.append(f"({progress['detail']})")
    return text(" ".join(words))


def _follow(api: Api, job: dict[str, Any], timeout: float, out: TextIO) -> dict[str, Any]:
    """The job once final, each new step (status, step, detail) printed as it is first seen."""
    last: list[tuple[Any, ...]] = []

    def seen(current: dict[str, Any]) -> None:
        progress = current.get("progress") or {}
        now = (current["status"], progress.get("step"), progress.get("detail"))
        if not last or last[-1] != now:
            last.append(now)
            print(f"  {_step(current)}", file=out, flush=True)

    return api.wait_for_job(job["job_id"], timeout, seen)


def first_user(profile: dict[str, Any] | None, inputs: dict[str, Any]) -> str | None:
    """Who logs in: the profile's `username` input (given or its default), or Windows' Administrator."""
    if profile is None:
        return None
    user = inputs.get("username", profile["inputs_schema"]["properties"].get("username", {}).get("default"))
    if isinstance(user, str):
        return user
    return "Administrator" if profile["manifest"]["first_boot"]["kind"] == "windows-unattend" else None


def ssh_commands(user: str | None, addresses: list[str], forwards: list[str],
                 host: str) -> tuple[str | None, str | None]:
    """How the user logs in, and where that works from when it is not plain: from a forward of a host port to
    the guest's 22 (`ssh -p PORT user@ADDRESS`; on 127.0.0.1 only from the host itself, or through it with
    `ssh -J HOST`; on 0.0.0.0 at the host's name), else from the VM's first address."""
    if not user:
        return None, None
    for forward in forwards:
        match = FORWARDED.match(forward)
        if match and match["guest_port"] == "22":
            target = host if match["address"] == ANY_ADDRESS else match["address"]  # every address of the host
            command = f"ssh -p {match['host_port']} {user}@{target}"
            if match["address"] != LOOPBACK:
                return command, None
            return command, f"the host itself; elsewhere: ssh -J {host} -p {match['host_port']} {user}@{LOOPBACK}"
    return (f"ssh {user}@{addresses[0]}", None) if addresses else (None, None)


def _handoff(api: Api, job: dict[str, Any], host: dict[str, Any], user: str | None) -> dict[str, Any]:
    data = api.call("GET", f"/api/jobs/{job['job_id']}/result").get("data") or {}
    addresses = [str(a) for a in data.get("addresses") or []]
    forwards = [str(f) for f in data.get("forwards") or []]
    ssh, ssh_where = ssh_commands(user, addresses, forwards, host["name"])
    handoff = {"name": data.get("name", job["args"]["name"]), "vm_uuid": data.get("vm_uuid"), "host": host["name"],
               "addresses": addresses, "forwards": forwards, "user": user, "first_boot": data.get("first_boot"),
               "ssh": ssh, "ssh_where": ssh_where, "installers": []}
    if data.get("installers"):
        codes = api.call("GET", "/api/installers").get("exit_codes", {})
        handoff["installers"] = [{**one, **codes.get(str(one.get("exit")), {"meaning": "unknown", "explanation": ""})}
                                 for one in data["installers"]]
    return handoff


def _handoff_text(handoff: dict[str, Any], password: str | None) -> str:
    pairs: list[tuple[str, Any]] = [
        ("vm", handoff["name"]), ("uuid", handoff["vm_uuid"]), ("host", handoff["host"]),
        ("addresses", handoff["addresses"] or ("none: a user-mode NIC, reached through its forwards"
                                               if handoff["forwards"] else NO_ADDRESS_YET)),
        *([("forwards", handoff["forwards"])] if handoff["forwards"] else []),
        ("user", handoff["user"]), ("log in with", handoff["ssh"]),
        *([("  works from", handoff["ssh_where"])] if handoff["ssh_where"] else []),
        ("first boot", handoff["first_boot"])]
    for one in handoff["installers"]:
        pairs.append((f"installer {one['id']}", f"exit {one['exit']} {one['meaning']} ({one['explanation']})"))
        pairs += [("  output" if i == 0 else "", line) for i, line in enumerate(one.get("last_lines") or [])]
    if password is not None:
        pairs.append(("password", f"{password}  (generated: shown this once, copy it now)"))
    return details(pairs)


def deploy(api: Api, args: argparse.Namespace) -> Shown:
    host = find_host(api, args.host)
    body, profile = request(api, args)
    job: dict[str, Any] = api.call("POST", f"/api/agents/{host['agent_id']}/deployments", body)
    password = job.pop("generated_password", None)
    what = f"deploy {job['args']['name']} on {host['name']}"
    if not args.wait:
        shown = job_shown(job, what)
        if password is None:
            return shown
        return Shown({**job, "generated_password": password},
                     shown.text + f"\npassword: {password}  (generated: shown this once, copy it now)")
    out = sys.stderr if args.json else sys.stdout
    print(f"{what}: job {job['job_id']}", file=out, flush=True)
    try:
        job = _follow(api, job, args.timeout, out)
    except (CliError, KeyboardInterrupt):
        if password is not None:
            print(f"the generated password of job {job['job_id']} (shown this once): {password}", file=sys.stderr)
        raise
    if job["status"] != "succeeded":
        raise unsuccessful(job)
    handoff = _handoff(api, job, host, first_user(profile, body["inputs"]))
    data = {**job, "handoff": handoff, **({"generated_password": password} if password is not None else {})}
    return Shown(data, f"{what}: {job['summary'] or 'done'}\n" + _handoff_text(handoff, password))


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser("deploy", parents=[common], help="deploy a VM from a profile (a vm.deploy job)",
                                 description=__doc__.split("\n\n")[1])
    parser.add_argument("host", help="the host's name or id")
    parser.add_argument("profile", help="the profile's id (fleetvisor profiles)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=VALUE",
                        help="an input's value; INSTALLER.NAME=VALUE for an installer's; @PATH for an ssh-key file")
    parser.add_argument("--inputs-file", metavar="FILE", help="a YAML or JSON mapping of input names to values")
    parser.add_argument("--installer", action="append", default=[], metavar="ID", help="run this installer too")
    parser.add_argument("--vcpus", type=int)
    parser.add_argument("--memory", metavar="SIZE", help="MiB, or with a unit: 4GiB")
    parser.add_argument("--disk", metavar="SIZE", help="GiB, or with a unit: 40GiB")
    parser.add_argument("--name", help="the VM's name (default: the profile's name input)")
    parser.add_argument("--network", metavar="NAME", help="another libvirt network of the host than the profile's")
    parser.add_argument("--forward", action="append", default=[], metavar="HOST_PORT:GUEST_PORT[@ADDRESS]",
                        help="QEMU's user-mode NIC (no bridge) with this TCP forward from the host (repeatable; "
                             "ADDRESS an IPv4 address of the host, 127.0.0.1 unless given)")
    parser.add_argument("--wait", action="store_true", help="follow the job's steps to its end, then hand off")
    parser.add_argument("--timeout", type=float, default=3600, help="how long --wait waits (seconds); exit 4")
    parser.set_defaults(run=deploy)
