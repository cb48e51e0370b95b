"""What every job handler shares: the argument schema it declares, the Result it returns, and the run skeleton."""

from __future__ import annotations

import ipaddress
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..client import ControlPlane
from ..hypervisor.errors import VM_NOT_FOUND, HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from ..waiting import ConsoleRings

EXIT_OK = 0
EXIT_INVALID = 1  # invalid input, invalid state, not found: retrying will not help
EXIT_TRANSIENT = 2  # worth another attempt later
EXIT_NEEDS_OPERATOR = 3  # the agent itself failed: someone has to look
EXIT_TIMED_OUT = 124  # the operation did not finish within its time limit (jobs/timeouts.py): worth a retry
SUMMARY_MAX = 1000  # the control plane keeps at most this much of a summary

# Lowercase 8-4-4-4-12 hex, the form libvirt prints. The version and variant
# nibbles are not checked: libvirt's own test domain has a UUID outside RFC 4122.
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SNAPSHOT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


# -- argument schemas ------------------------------------------------------------------------------

class Field(Protocol):
    def accepts(self, value: object) -> bool: ...


@dataclass(frozen=True)
class Pattern:
    """A string matching the pattern in full."""

    regex: re.Pattern[str]

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and self.regex.fullmatch(value) is not None


@dataclass(frozen=True)
class Ipv4Address:
    """An IPv4 literal (a port forward's: the QEMU of Debian 12 forwards from IPv4 addresses only)."""

    def accepts(self, value: object) -> bool:
        if not isinstance(value, str) or len(value) > 15:
            return False
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class Flag:
    """true or false (not 0 or 1)."""

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class IntRange:
    """An integer (not a boolean) from low to high inclusive."""

    low: int
    high: int

    def accepts(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class Text:
    """Up to max_chars characters (at least min_chars), none of them a control character (newlines included)."""

    max_chars: int
    min_chars: int = 0

    def accepts(self, value: object) -> bool:
        return (isinstance(value, str) and self.min_chars <= len(value) <= self.max_chars
                and not any(unicodedata.category(char) == "Cc" for char in value))


@dataclass(frozen=True)
class Document:
    """The text of a file: up to max_chars characters, newlines and tabs allowed, no NUL."""

    max_chars: int

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and len(value) <= self.max_chars and "\x00" not in value


@dataclass(frozen=True)
class OneOf:
    """Exactly one of these strings."""

    choices: frozenset[str]

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.choices


def one_of(*choices: str) -> OneOf:
    return OneOf(frozenset(choices))


@dataclass(frozen=True)
class ListOf:
    """A list of min_items to max_items values, each accepted by `item`."""

    item: Field
    min_items: int
    max_items: int

    def accepts(self, value: object) -> bool:
        return (isinstance(value, list) and self.min_items <= len(value) <= self.max_items
                and all(self.item.accepts(entry) for entry in value))


@dataclass(frozen=True)
class MapOf:
    """An object of min_items to max_items entries, each name accepted by `key` and each value by `value`."""

    key: Field
    value: Field
    min_items: int
    max_items: int

    def accepts(self, value: object) -> bool:
        return (isinstance(value, dict) and self.min_items <= len(value) <= self.max_items
                and all(self.key.accepts(name) and self.value.accepts(entry) for name, entry in value.items()))


@dataclass(frozen=True)
class AnyOf:
    """A value accepted by at least one of `fields` (an object that fits one of several shapes)."""

    fields: tuple[Field, ...]

    def accepts(self, value: object) -> bool:
        return any(option.accepts(value) for option in self.fields)


@dataclass(frozen=True)
class Nullable:
    """null, or a value accepted by `field`."""

    field: Field

    def accepts(self, value: object) -> bool:
        return value is None or self.field.accepts(value)


VM_UUID = Pattern(UUID_RE)
SNAPSHOT_NAME = Pattern(SNAPSHOT_NAME_RE)


@dataclass(frozen=True)
class ArgsSchema:
    """Every required field, any of the optional ones, nothing else; each value accepted by its field."""

    required: Mapping[str, Field]
    optional: Mapping[str, Field] = field(default_factory=dict)
    min_optional: int = 0  # at least this many of the optional ones (vm.resize: something to change)

    def matches(self, args: Mapping[str, Any]) -> bool:
        names = set(args)
        if not set(self.required) <= names <= set(self.required) | set(self.optional):
            return False
        if len(names & set(self.optional)) < self.min_optional:
            return False
        fields = {**self.optional, **self.required}
        return all(fields[name].accepts(args[name]) for name in names)

    def accepts(self, value: object) -> bool:
        """As a field: an object nested in the arguments, held to the same rules."""
        return isinstance(value, dict) and self.matches(value)


VM_ONLY = ArgsSchema({"vm_uuid": VM_UUID})


# -- what a long-lived job talks through ------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    """The control plane as a session job (a console) needs it: the client, its attempt's claim token, and
    the rings of its own queue that concern it (None: it hears of nothing, and long-polls the API)."""

    client: ControlPlane
    claim_token: str
    rings: ConsoleRings | None = None


# -- results ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    """How a job ended: the exit code and summary for `complete`, the uploaded document, the VM after it."""

    exit_code: int
    summary: str
    document: dict[str, Any]
    vm: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


def build_result(job: VerifiedJob, *, summary: str, vm: dict[str, Any] | None, error: dict[str, str] | None,
                 exit_code: int, duration_ms: int, data: dict[str, Any] | None = None) -> Result:
    """A Result whose document is the protocol's result JSON (docs/protocol.md, "Result JSON" and "Results")."""
    document = {"job_id": job.job_id, "attempt": job.attempt, "op": job.op, "ok": exit_code == EXIT_OK,
                "vm": vm, "error": error, "data": data, "duration_ms": duration_ms}
    return Result(exit_code=exit_code, summary=summary[:SUMMARY_MAX], document=document, vm=vm)


def timed_out(job: VerifiedJob, seconds: float) -> Result:
    """The job ran past its time limit and the agent stopped waiting. The VM is not read: whatever held the
    operation up (a hung libvirtd) would hold that up too; heartbeats report it once it answers again."""
    message = f"{job.op} did not finish within {seconds:g} s; the agent stopped waiting for it."
    return build_result(job, summary=f"timed_out: {message}", vm=None,
                        error={"code": "operation_timeout", "message": message}, exit_code=EXIT_TIMED_OUT,
                        duration_ms=int(seconds * 1000))


@dataclass(frozen=True)
class Outcome:
    """What an operation reports besides the VM's state: the result's `data`, and its own summary if any."""

    data: dict[str, Any] | None = None
    summary: str | None = None  # replaces "VM 'web1' is now running."
    vm_gone: bool = False  # the VM was deleted: no state to report


VmAction = Callable[[Guest, Mapping[str, Any]], Outcome | None]


def run_on_vm(job: VerifiedJob, host: Host, action: VmAction) -> Result:
    """Look the VM up, run `action` on it, and report the VM as it is afterwards, or why it failed."""
    started = time.monotonic()
    try:
        guest = host.guest(str(job.args["vm_uuid"]))
    except HypervisorError as exc:
        return failed(job, exc, None, started)
    try:
        outcome = action(guest, job.args) or Outcome()
        vm = None if outcome.vm_gone else _vm_after_success(guest)
    except HypervisorError as exc:
        return failed(job, exc, _vm_after_failure(guest), started)
    if outcome.summary is not None:
        summary = outcome.summary
    elif vm is None:
        summary = f"VM {guest.name!r} is gone (it was transient: libvirt forgets such a VM once it stops)."
    else:
        summary = f"VM {vm['name']!r} is now {vm['state']}."
    return build_result(job, summary=f"{job.op}: {summary}", vm=vm, error=None, data=outcome.data,
                        exit_code=EXIT_OK, duration_ms=ms_since(started))


def run_on_host(job: VerifiedJob, host: Host, action: Callable[[Host], Outcome]) -> Result:
    started = time.monotonic()
    try:
        outcome = action(host)
    except HypervisorError as exc:
        return failed(job, exc, None, started)
    return build_result(job, summary=f"{job.op}: {outcome.summary or 'done.'}", vm=None, error=None,
                        data=outcome.data, exit_code=EXIT_OK, duration_ms=ms_since(started))


def failed(job: VerifiedJob, exc: HypervisorError, vm: dict[str, Any] | None, started: float) -> Result:
    return build_result(job, summary=f"{exc.code}: {exc.message}", vm=vm, error=exc.as_dict(),
                        exit_code=EXIT_TRANSIENT if exc.transient else EXIT_INVALID,
                        duration_ms=ms_since(started))


def vm_now(job: VerifiedJob, host: Host) -> dict[str, Any] | None:
    """The job's VM as libvirt reports it right now: None for a host job, or a VM that cannot be read."""
    vm_uuid = job.args.get("vm_uuid")
    if not isinstance(vm_uuid, str):
        return None
    try:
        return host.guest(vm_uuid).inventory_entry()
    except HypervisorError:
        return None


def _vm_after_success(guest: Guest) -> dict[str, Any] | None:
    """The VM after the operation; None if a transient VM vanished because it stopped."""
    try:
        return guest.inventory_entry()
    except HypervisorError as exc:
        if exc.code == VM_NOT_FOUND:
            return None
        raise


def _vm_after_failure(guest: Guest) -> dict[str, Any] | None:
    """The VM's state after a failed operation, if it can still be read."""
    try:
        return guest.inventory_entry()
    except HypervisorError:
        return None


def ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
