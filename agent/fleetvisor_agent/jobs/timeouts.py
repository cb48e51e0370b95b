"""How long each operation may run before the agent stops waiting for it: one table, beside the registry.

An operation's limit is a number of seconds, plus, for an operation that
waits by design, the seconds its arguments ask it to wait (`vm.shutdown`'s
`timeout_seconds`, after which it escalates to a forced stop: its limit is
that escalation plus a margin for the ACPI request and the forced stop).
`None` is no limit at all, for an operation that runs until it is closed (a
serial console, `console.attach`); a long cap such as 12 h is the other
choice there. An operation missing from the table gets `DEFAULT`, and a test
holds every registered operation to having an entry.

When the limit passes the runner stops waiting: the job is reported with
exit code 124 (the control plane retries it with backoff until its attempts
are spent, then ends it `timed_out`) and a summary that says so; the
handler is told through `job.cancelled`, so one that waits (vm.shutdown)
stops waiting and forces nothing; a libvirt call in flight finishes in the
background, and the job's slot stays taken until it has.

A host may set its own limits (`FLEETVISOR_AGENT_OP_TIMEOUTS`, e.g.
`vm.snapshot_create=3600,vm.shutdown=120`): a configured limit replaces the
table's whole, arguments included, so a configured `vm.shutdown` limit holds
whatever `timeout_seconds` a job asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    seconds: float
    plus_arg: str | None = None  # an argument, in seconds, that the operation itself waits ("a.b": nested)

    def for_args(self, args: Mapping[str, Any]) -> float:
        extra: Any = args
        for name in (self.plus_arg or "").split("."):
            extra = extra.get(name) if isinstance(extra, Mapping) and name else None
        waited = extra if isinstance(extra, int) and not isinstance(extra, bool) else 0
        return self.seconds + waited


DEFAULT = Limit(300)
SHUTDOWN_MARGIN = 60  # the ACPI request, then a forced stop, on a busy host
DEPLOY_SECONDS = 3 * 3600  # a 20 GiB image at 20 Mbit/s, hashed twice and copied once

TIMEOUTS: Mapping[str, Limit | None] = {
    "vm.start": Limit(120),
    "vm.shutdown": Limit(SHUTDOWN_MARGIN, plus_arg="timeout_seconds"),
    "vm.force_stop": Limit(120),  # QEMU may take a while to let go of a busy guest's memory
    "vm.reboot": Limit(120),
    "vm.reset": Limit(60),
    "vm.suspend": Limit(60),
    "vm.resume": Limit(60),
    "vm.set_autostart": Limit(60),
    "vm.delete": Limit(900),  # with its storage: deleting large volumes
    "vm.resize": Limit(300),  # growing a preallocated volume writes it
    "vm.clone": Limit(DEPLOY_SECONDS),  # copying every disk whole
    "vm.snapshot_create": Limit(1800),  # a running VM's memory is written out too
    "vm.snapshot_list": Limit(60),
    "vm.snapshot_revert": Limit(1800),
    "vm.snapshot_delete": Limit(900),
    "vm.detail": Limit(60),
    "host.capabilities": Limit(60),
    # Downloading an image (up to its max_bytes), caching, creating the disk and booting, then watching the
    # first boot for as long as the job asks.
    "vm.deploy": Limit(DEPLOY_SECONDS, plus_arg="first_boot.timeout_seconds"),
    # A console runs until its session closes (closed, idle, VM stopped): watching a serial port for days
    # is legitimate, and the control plane closes sessions nobody looks at.
    "console.attach": None,
}


def time_limit(op: str, args: Mapping[str, Any], configured: Mapping[str, float] | None = None,
               table: Mapping[str, Limit | None] = TIMEOUTS) -> float | None:
    """Seconds `op` with these `args` may run on this host, or None for no limit."""
    if configured and op in configured:
        return configured[op]
    limit = table.get(op, DEFAULT)
    return None if limit is None else limit.for_args(args)
