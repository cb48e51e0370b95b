"""vm.start, vm.shutdown, vm.force_stop, vm.reboot, vm.suspend, vm.resume: one VM's power state."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from ..hypervisor.errors import HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import EXIT_INVALID, EXIT_OK, EXIT_TRANSIENT, ArgsSchema, Result, build_result

log = logging.getLogger(__name__)

# Lowercase 8-4-4-4-12 hex, the form libvirt prints. The version and variant
# nibbles are not checked: libvirt's own test domain has a UUID outside RFC 4122.
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ARGS = ArgsSchema({"vm_uuid": UUID_RE})

ACTIONS: dict[str, Callable[[Guest], None]] = {
    "vm.start": Guest.start,
    "vm.shutdown": Guest.shutdown,
    "vm.force_stop": Guest.force_stop,
    "vm.reboot": Guest.reboot,
    "vm.suspend": Guest.suspend,
    "vm.resume": Guest.resume,
}
OPS = tuple(ACTIONS)


def handle(job: VerifiedJob, host: Host) -> Result:
    started = time.monotonic()
    vm_uuid = str(job.args["vm_uuid"])
    guest: Guest | None = None
    try:
        guest = host.guest(vm_uuid)
        ACTIONS[job.op](guest)
        vm = guest.summary()
    except HypervisorError as exc:
        return _failed(job, exc, _vm_after(guest), started)
    return build_result(job, summary=f"{job.op}: VM {vm['name']!r} is now {vm['state']}.", vm=vm, error=None,
                        exit_code=EXIT_OK, duration_ms=_ms_since(started))


def _failed(job: VerifiedJob, exc: HypervisorError, vm: dict[str, str] | None, started: float) -> Result:
    return build_result(job, summary=f"{exc.code}: {exc.message}", vm=vm, error=exc.as_dict(),
                        exit_code=EXIT_TRANSIENT if exc.transient else EXIT_INVALID,
                        duration_ms=_ms_since(started))


def _vm_after(guest: Guest | None) -> dict[str, str] | None:
    """The VM's state after a failed operation, if it can still be read."""
    if guest is None:
        return None
    try:
        return guest.summary()
    except HypervisorError:
        return None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
