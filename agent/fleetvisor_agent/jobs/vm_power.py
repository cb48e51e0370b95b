"""vm.start, vm.shutdown, vm.force_stop, vm.reboot, vm.reset, vm.suspend, vm.resume: one VM's power state.

vm.shutdown presses the virtual power button (ACPI) and, without a timeout,
answers at once: the guest OS decides when, or whether, it powers off, and the
heartbeat that the lifecycle event triggers reports it. With
`timeout_seconds` the job waits that long for the VM to stop and then pulls
the plug, and says so (`data.escalated`). A job cancelled while it waits stops
waiting at once and leaves the VM as it is: no forced stop.

A retry that finds its work done succeeds. An operation that does not fit the
VM's state (start a running VM) fails with `invalid_state`, except on a later
attempt of a job that names a state to reach (start, shutdown, force-stop,
suspend, resume) when the VM is already in it: the attempt before may have
done the work and lost only its report (its lease lapsed while the agent was
cut off, say), and failing the job then would tell the operator the opposite
of what happened. It reports `data.already_done`. Reboot and reset name no
state, so a retry of them runs again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..hypervisor.errors import INVALID_STATE, HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import VM_ONLY, VM_UUID, ArgsSchema, IntRange, Outcome, Result, VmAction, run_on_vm

MAX_SHUTDOWN_TIMEOUT = 3600

OPS: Mapping[str, ArgsSchema] = {
    "vm.start": VM_ONLY,
    "vm.shutdown": ArgsSchema({"vm_uuid": VM_UUID},
                              optional={"timeout_seconds": IntRange(1, MAX_SHUTDOWN_TIMEOUT)}),
    "vm.force_stop": VM_ONLY,
    "vm.reboot": VM_ONLY,
    "vm.reset": VM_ONLY,
    "vm.suspend": VM_ONLY,
    "vm.resume": VM_ONLY,
}


# The state each operation leaves the VM in, for the ones that name one.
TARGET_STATES: Mapping[str, str] = {"vm.start": "running", "vm.shutdown": "shutoff", "vm.force_stop": "shutoff",
                                    "vm.suspend": "paused", "vm.resume": "running"}


def handle(job: VerifiedJob, host: Host) -> Result:
    action = _action(job)
    target = TARGET_STATES.get(job.op)
    if job.attempt > 1 and target is not None:
        action = _unless_already(target, action)
    return run_on_vm(job, host, action)


def _action(job: VerifiedJob) -> VmAction:
    if job.op == "vm.shutdown":  # the one that waits, so the one that needs to hear of a cancel
        return lambda guest, args: _shutdown(guest, args, job.cancelled)
    return ACTIONS[job.op]


def _unless_already(target: str, action: VmAction) -> VmAction:
    def run(guest: Guest, args: Mapping[str, Any]) -> Outcome | None:
        if guest.state() != target:
            return action(guest, args)
        return Outcome(data={"already_done": True},
                       summary=f"VM {guest.name!r} was already {target}: an earlier attempt of this job did it, "
                               "or something else did.")
    return run


def _shutdown(guest: Guest, args: Mapping[str, Any], cancelled: threading.Event) -> Outcome:
    timeout = args.get("timeout_seconds")
    guest.shutdown()
    if timeout is None:
        if guest.wait_until_stopped(0):
            return Outcome(data={"escalated": False})
        return Outcome(data={"escalated": False},
                       summary=f"VM {guest.name!r} was asked to shut down (ACPI); the guest OS decides when.")
    if guest.wait_until_stopped(timeout, cancelled):
        return Outcome(data={"escalated": False})
    if cancelled.is_set():
        return Outcome(data={"escalated": False}, summary=f"VM {guest.name!r} was asked to shut down (ACPI); "
                                                          "the job was cancelled before the timeout.")
    if not _pull_the_plug(guest):
        return Outcome(data={"escalated": False})
    return Outcome(data={"escalated": True}, summary=f"VM {guest.name!r} did not shut down within {timeout} s "
                                                     "of the ACPI request and was forced off.")


def _pull_the_plug(guest: Guest) -> bool:
    """Force the VM off; False if it stopped by itself in the meantime."""
    try:
        guest.force_stop()
    except HypervisorError as exc:
        if exc.code != INVALID_STATE:
            raise
        return False
    return True


def _plain(method: Callable[[Guest], None]) -> Callable[[Guest, Mapping[str, Any]], None]:
    return lambda guest, _args: method(guest)


ACTIONS: Mapping[str, VmAction] = {
    "vm.start": _plain(Guest.start),
    "vm.force_stop": _plain(Guest.force_stop),
    "vm.reboot": _plain(Guest.reboot),
    "vm.reset": _plain(Guest.reset),
    "vm.suspend": _plain(Guest.suspend),
    "vm.resume": _plain(Guest.resume),
}
