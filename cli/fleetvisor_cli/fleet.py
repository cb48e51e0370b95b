"""Hosts, VMs and jobs from a shell: `fleetvisor hosts|vms|jobs ...`.

A host is named by its id or its name. A VM is named by its name or UUID:
alone it is looked up in the whole fleet (`GET /api/vms?search=`), which
must find exactly one; `--host` names its host when the name is not unique
(then the API's own lookup answers, with its message). Actions are jobs:
the command prints the queued job, or with `--wait` waits for it to end.
Destructive actions (force-stop, reset, snapshot revert and delete) ask
first, unless `--yes`; without a terminal to ask on they need `--yes`.

Exit codes: 0 done, 1 refused or failed (the API's message on stderr),
2 bad usage, 3 a waited-for job ended but did not succeed, 4 waiting
timed out.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any
from urllib.parse import quote, urlencode

from .api import Api, CliError
from .output import Column, Shown, ago, details, memory, moment, table

AGENT_ID = re.compile(r"^ag_[0-9a-f]{32}\Z")
JOB_ID = re.compile(r"^job_[0-9a-f]{32}\Z")
PAGE = 1000  # the fleet list's largest page
POWER = {"start": False, "shutdown": False, "force-stop": True, "reboot": False, "reset": True,
         "suspend": False, "resume": False}  # action: whether it is destructive

HOST_COLUMNS = [Column("NAME", lambda h: h["name"], 20), Column("ID", lambda h: h["agent_id"], 35),
                Column("STATUS", lambda h: h["status"], 8), Column("VMS", lambda h: h["vm_count"], 5),
                Column("LAST SEEN", lambda h: ago(h["last_seen_ms"]), 10),
                Column("LABELS", lambda h: h["labels"], 30)]
VM_COLUMNS = [Column("NAME", lambda v: v["name"], 24), Column("HOST", lambda v: v.get("host_name"), 16),
              Column("STATE", lambda v: v["state"], 11), Column("CPUS", lambda v: v["vcpus"], 4),
              Column("MEMORY", lambda v: memory(v["memory_kib"]), 9),
              Column("ADDRESSES", lambda v: v["addresses"], 20), Column("LABELS", lambda v: v["labels"], 24),
              Column("UUID", lambda v: v["uuid"], 36)]
JOB_COLUMNS = [Column("JOB", lambda j: j["job_id"], 36), Column("OP", lambda j: j["op"], 20),
               Column("STATUS", lambda j: j["status"], 10), Column("CREATED", lambda j: moment(j["created_ms"]), 19),
               Column("SUMMARY", lambda j: j["summary"], 50)]
SNAPSHOT_COLUMNS = [Column("NAME", lambda s: s["name"], 24), Column("CREATED", lambda s: moment(
    s["created_at"] * 1000 if isinstance(s.get("created_at"), int) else None), 19),
    Column("STATE", lambda s: s["state"], 10), Column("CURRENT", lambda s: s["current"], 7),
    Column("DESCRIPTION", lambda s: s["description"], 40)]


# -- finding what a command names ---------------------------------------------------------------------

def find_host(api: Api, ref: str) -> dict[str, Any]:
    if AGENT_ID.match(ref):
        return dict(api.call("GET", f"/api/agents/{ref}"))
    hosts = [h for h in api.call("GET", "/api/agents")["agents"] if ref in (h["name"], h["hostname"])]
    if len(hosts) != 1:
        raise CliError(f"no host named {ref!r}" if not hosts else f"{len(hosts)} hosts are named {ref!r}: use its id")
    return dict(hosts[0])


def find_vm(api: Api, ref: str, host: str | None) -> dict[str, Any]:
    """The VM (as the API answers it, with host_name) that `ref` names, on `host` when given."""
    if host is not None:
        agent = find_host(api, host)
        vm = api.call("GET", f"/api/agents/{agent['agent_id']}/vms/{quote(ref, safe='')}")
        return {**vm, "host_name": agent["name"]}
    found = [vm for vm in fleet(api, {"search": ref}) if ref in (vm["name"], vm["uuid"]) or vm["uuid"] == ref.lower()]
    if not found:
        raise CliError(f"no VM named {ref!r} on any of your hosts")
    if len(found) > 1:
        hosts = ", ".join(sorted(vm["host_name"] for vm in found))
        raise CliError(f"{len(found)} VMs are named {ref!r} (on {hosts}): add --host")
    return found[0]


def fleet(api: Api, narrow: dict[str, str]) -> list[dict[str, Any]]:
    """Every VM of the fleet that `narrow` lets through, page after page."""
    vms: list[dict[str, Any]] = []
    query = {name: value for name, value in narrow.items() if value}
    cursor = None
    while True:
        paging = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/api/vms?" + urlencode({**query, **paging}))
        vms += page["vms"]
        cursor = page["next_cursor"]
        if not cursor:
            return vms


def _vm_path(vm: dict[str, Any]) -> str:
    return f"/api/agents/{vm['agent_id']}/vms/{vm['uuid']}"


def confirm(question: str, args: argparse.Namespace) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} Refused: no terminal to ask on; add --yes")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("not confirmed; nothing done")


# -- hosts -------------------------------------------------------------------------------------------

def hosts_list(api: Api, args: argparse.Namespace) -> Shown:
    hosts = api.call("GET", "/api/agents")["agents"]
    return Shown(hosts, table(hosts, HOST_COLUMNS))


def hosts_show(api: Api, args: argparse.Namespace) -> Shown:
    host = find_host(api, args.host)
    caps = host.get("capabilities") or {}
    return Shown(host, details([
        ("name", host["name"]), ("id", host["agent_id"]), ("hostname", host["hostname"]),
        ("status", host["status"]), ("last seen", ago(host["last_seen_ms"])),
        ("environment", host["environment"]), ("labels", host["labels"]), ("vms", host["vm_count"]),
        ("enrolled", moment(host["enrolled_ms"])), ("hypervisor", caps.get("hypervisor")),
        ("cpus", caps.get("cpu_count")), ("memory", memory(caps.get("memory_total_kib")))]))


# -- VMs ---------------------------------------------------------------------------------------------

def vms_list(api: Api, args: argparse.Namespace) -> Shown:
    narrow = {"search": args.search, "state": args.state, "label": args.label}
    if args.host:
        narrow["agent_id"] = find_host(api, args.host)["agent_id"]
    vms = fleet(api, narrow)
    return Shown(vms, table(vms, VM_COLUMNS))


def vms_show(api: Api, args: argparse.Namespace) -> Shown:
    vm = find_vm(api, args.vm, args.host)
    return Shown(vm, details([
        ("name", vm["name"]), ("uuid", vm["uuid"]), ("host", vm.get("host_name")), ("host id", vm["agent_id"]),
        ("state", vm["state"]), ("reason", vm["state_reason"]), ("cpus", vm["vcpus"]),
        ("memory", memory(vm["memory_kib"])), ("addresses", vm["addresses"]), ("labels", vm["labels"]),
        ("autostart", vm["autostart"]), ("persistent", vm["persistent"]), ("updated", moment(vm["updated_ms"]))]))


def _act(api: Api, args: argparse.Namespace, vm: dict[str, Any], action: str, **more: Any) -> dict[str, Any]:
    """Queue `action` on the VM as a job, and wait for it to end with --wait."""
    job: dict[str, Any] = api.call("POST", f"{_vm_path(vm)}/actions", {"action": action, **more})
    if getattr(args, "wait", False):
        job = api.wait_for_job(job["job_id"], args.timeout)
    return job


def job_shown(job: dict[str, Any], what: str) -> Shown:
    if job["status"] not in ("succeeded", "queued", "claimed", "running"):
        raise unsuccessful(job)
    if job["status"] == "succeeded":
        return Shown(job, f"{what}: {job['summary'] or 'done'} (job {job['job_id']})")
    return Shown(job, f"{what}: queued as job {job['job_id']} (fleetvisor jobs wait {job['job_id']})")


def unsuccessful(job: dict[str, Any]) -> CliError:
    return CliError(f"job {job['job_id']} {job['status']}: {job['summary'] or 'no summary'}", exit_code=3)


def vms_power(api: Api, args: argparse.Namespace) -> Shown:
    vm = find_vm(api, args.vm, args.host)
    if POWER[args.action]:
        confirm(f"{args.action} VM {vm['name']!r} on {vm.get('host_name')}? It is like pulling the plug.", args)
    more = {"timeout_seconds": args.shutdown_timeout} if getattr(args, "shutdown_timeout", None) else {}
    return job_shown(_act(api, args, vm, args.action, **more), f"{args.action} {vm['name']}")


def snapshot_create(api: Api, args: argparse.Namespace) -> Shown:
    vm = find_vm(api, args.vm, args.host)
    more = {"description": args.description} if args.description else {}
    return job_shown(_act(api, args, vm, "snapshot-create", name=args.name, **more),
                      f"snapshot {args.name} of {vm['name']}")


def snapshot_list(api: Api, args: argparse.Namespace) -> Shown:
    args.wait = True
    job = _act(api, args, find_vm(api, args.vm, args.host), "snapshot-list")
    if job["status"] != "succeeded":
        raise unsuccessful(job)
    snapshots = api.call("GET", f"/api/jobs/{job['job_id']}/result")["data"]["snapshots"]
    return Shown(snapshots, table(snapshots, SNAPSHOT_COLUMNS))


def snapshot_change(api: Api, args: argparse.Namespace) -> Shown:
    vm = find_vm(api, args.vm, args.host)
    verb = "revert to" if args.change == "revert" else "delete"
    warning = "Its current state is lost." if args.change == "revert" else "It cannot be undone."
    confirm(f"{verb} snapshot {args.name!r} of VM {vm['name']!r}? {warning}", args)
    job = _act(api, args, vm, f"snapshot-{args.change}", name=args.name)
    return job_shown(job, f"{verb} snapshot {args.name} of {vm['name']}")


def vms_label(api: Api, args: argparse.Namespace) -> Shown:
    found = find_vm(api, args.vm, args.host)
    vm = {**found, **api.call("GET", _vm_path(found))}  # the host's list is read consistently, the fleet's not
    labels = {} if args.clear else dict(vm["labels"])
    for pair in args.set:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"{pair!r}: write labels as KEY=VALUE")
        labels[key] = value
    for key in args.remove:
        labels.pop(key, None)
    if args.set or args.remove or args.clear:
        vm = {**vm, **api.call("PATCH", _vm_path(vm), {"labels": labels})}
    return Shown(vm["labels"], details([(key, value) for key, value in sorted(vm["labels"].items())])
                 if vm["labels"] else "no labels")


# -- jobs --------------------------------------------------------------------------------------------

def jobs_list(api: Api, args: argparse.Namespace) -> Shown:
    query = {"limit": args.limit, "status": args.status or "",
             "agent_id": find_host(api, args.host)["agent_id"] if args.host else ""}
    jobs = api.call("GET", "/api/jobs?" + urlencode({k: v for k, v in query.items() if v}))["jobs"]
    return Shown(jobs, table(jobs, JOB_COLUMNS))


def _job_id(ref: str) -> str:
    if not JOB_ID.match(ref):
        raise CliError(f"{ref!r} is not a job id (job_ and 32 hex digits)")
    return ref


def jobs_show(api: Api, args: argparse.Namespace) -> Shown:
    job = api.call("GET", f"/api/jobs/{_job_id(args.job)}")
    return Shown(job, details([
        ("job", job["job_id"]), ("op", job["op"]), ("status", job["status"]), ("host id", job["agent_id"]),
        ("vm", job["vm_uuid"]), ("args", job["args"]), ("attempt", f"{job['attempt']} of {job['max_attempts']}"),
        ("created", moment(job["created_ms"])), ("finished", moment(job["finished_ms"])),
        ("exit code", job["exit_code"]), ("summary", job["summary"])]))


def jobs_wait(api: Api, args: argparse.Namespace) -> Shown:
    job = api.wait_for_job(_job_id(args.job), args.timeout)
    return job_shown(job, f"{job['op']}")


# -- the parser --------------------------------------------------------------------------------------

def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """`hosts`, `vms` and `jobs` with their subcommands; `common` carries --json."""
    hosts = commands.add_parser("hosts", help="list and show hosts").add_subparsers(dest="what", required=True)
    hosts.add_parser("list", parents=[common], help="every host").set_defaults(run=hosts_list)
    show = hosts.add_parser("show", parents=[common], help="one host, by name or id")
    show.add_argument("host")
    show.set_defaults(run=hosts_show)
    _add_vm_commands(commands, common)
    _add_job_commands(commands, common)


def _vm_parser(group: Any, name: str, common: argparse.ArgumentParser, help_text: str,
               *, wait: bool = False, confirm: bool = False) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help_text)
    parser.add_argument("vm", help="the VM's name or UUID")
    parser.add_argument("--host", help="the VM's host (name or id), when its name is not unique")
    if wait:
        parser.add_argument("--wait", action="store_true", help="wait for the job to end")
        parser.add_argument("--timeout", type=float, default=300, help="how long --wait waits (seconds)")
    if confirm:
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _add_vm_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    vms = commands.add_parser("vms", help="list, show and act on VMs").add_subparsers(dest="what", required=True)
    listing = vms.add_parser("list", parents=[common], help="every VM on all your hosts")
    listing.add_argument("--search", default="", help="text in the name, UUID, host, state, address or labels")
    listing.add_argument("--state", default="")
    listing.add_argument("--label", default="", help="KEY or KEY=VALUE")
    listing.add_argument("--host", help="only this host's VMs (name or id)")
    listing.set_defaults(run=vms_list)
    _vm_parser(vms, "show", common, "one VM").set_defaults(run=vms_show)
    for action, destructive in POWER.items():
        power = _vm_parser(vms, action, common, f"{action} a VM (a job)", wait=True, confirm=destructive)
        if action == "shutdown":
            power.add_argument("--shutdown-timeout", type=int, help="force it off after this many seconds")
        power.set_defaults(run=vms_power, action=action, yes=False)
    label = _vm_parser(vms, "label", common, "show or change a VM's labels")
    label.add_argument("set", nargs="*", metavar="KEY=VALUE")
    label.add_argument("--remove", action="append", default=[], metavar="KEY")
    label.add_argument("--clear", action="store_true", help="remove every label first")
    label.set_defaults(run=vms_label)
    snapshots = vms.add_parser("snapshot", help="a VM's snapshots").add_subparsers(dest="change", required=True)
    create = _vm_parser(snapshots, "create", common, "take a snapshot", wait=True)
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.set_defaults(run=snapshot_create)
    _vm_parser(snapshots, "list", common, "list a VM's snapshots (waits for the job)",
               wait=True).set_defaults(run=snapshot_list)
    for change in ("revert", "delete"):
        changing = _vm_parser(snapshots, change, common, f"{change} a snapshot", wait=True, confirm=True)
        changing.add_argument("name")
        changing.set_defaults(run=snapshot_change)


def _add_job_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    jobs = commands.add_parser("jobs", help="list, show and wait for jobs").add_subparsers(dest="what", required=True)
    listing = jobs.add_parser("list", parents=[common], help="recent jobs, newest first")
    listing.add_argument("--host", help="only this host's jobs (name or id)")
    listing.add_argument("--status", default="")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1 to 100)")
    listing.set_defaults(run=jobs_list)
    show = jobs.add_parser("show", parents=[common], help="one job")
    show.add_argument("job")
    show.set_defaults(run=jobs_show)
    wait = jobs.add_parser("wait", parents=[common], help="wait for a job to end; exit 3 unless it succeeded")
    wait.add_argument("job")
    wait.add_argument("--timeout", type=float, default=300, help="seconds; exit 4 when they pass")
    wait.set_defaults(run=jobs_wait)
