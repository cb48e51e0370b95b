"""The registry of job types: operation name → handler and argument schema.

Each job type is a module with one `handle(job, host) -> Result` and `OPS`,
the ArgsSchema of each operation it handles; the verifier consults
`args_valid` and `allowed_ops`, the runner calls `run`. Adding a job type is
adding a module and a line here.

A session operation (`console.attach`) lives as long as its session: its
handler also gets a Link (the client and the attempt's claim token) to talk
to the control plane while it runs, and the runner gives its job slot back
once it starts, so open consoles never hold up other work.

How long an operation may run is a table beside this registry
(`timeouts.py`); the runner stops waiting for a handler past its limit.

Cancellation reaches a handler through the job itself: `job.cancelled`, a
threading.Event (verify.VerifiedJob). A handler that waits waits on it
(`job.cancelled.wait(seconds)`, or `Guest.wait_until_stopped(timeout,
job.cancelled)`) and returns early once it is set; one that only makes a
libvirt call ignores it, because the call cannot be interrupted, and the
runner stops waiting for its outcome anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..hypervisor.host import Host
from ..verify import VerifiedJob
from . import clone, console, deploy, inspect, snapshots, vm_config, vm_power
from .base import (
    EXIT_INVALID,
    EXIT_NEEDS_OPERATOR,
    EXIT_OK,
    EXIT_TIMED_OUT,
    EXIT_TRANSIENT,
    ArgsSchema,
    Link,
    Result,
    build_result,
    timed_out,
    vm_now,
)
from .timeouts import time_limit

log = logging.getLogger(__name__)

Handler = Callable[[VerifiedJob, Host], Result]
SessionHandler = Callable[[VerifiedJob, Host, Link], Result]

__all__ = ["EXIT_INVALID", "EXIT_NEEDS_OPERATOR", "EXIT_OK", "EXIT_TIMED_OUT", "EXIT_TRANSIENT", "OPERATIONS",
           "ArgsSchema", "Handler", "Link", "Operation", "Result", "allowed_ops", "args_valid", "is_session", "run",
           "time_limit", "timed_out", "vm_now"]


@dataclass(frozen=True)
class Operation:
    handler: Handler | None
    args: ArgsSchema
    session_handler: SessionHandler | None = None


def _register(*modules: tuple[Handler, Mapping[str, ArgsSchema]]) -> dict[str, Operation]:
    return {op: Operation(handler, schema) for handler, ops in modules for op, schema in ops.items()}


OPERATIONS: Mapping[str, Operation] = {
    **_register(
        (vm_power.handle, vm_power.OPS),
        (vm_config.handle, vm_config.OPS),
        (snapshots.handle, snapshots.OPS),
        (inspect.handle, inspect.OPS),
        (deploy.handle, deploy.OPS),
        (clone.handle, clone.OPS),
    ),
    **{op: Operation(None, schema, session_handler=console.handle) for op, schema in console.OPS.items()},
}


def allowed_ops(configured: Collection[str] | None = None) -> frozenset[str]:
    """The operations this agent runs: those it has handlers for, narrowed by the host's own allow-list."""
    known = frozenset(OPERATIONS)
    return known if configured is None else known & frozenset(configured)


def args_valid(op: str, args: Mapping[str, Any]) -> bool:
    operation = OPERATIONS.get(op)
    return operation is not None and operation.args.matches(args)


def is_session(op: str) -> bool:
    operation = OPERATIONS.get(op)
    return operation is not None and operation.session_handler is not None


def run(job: VerifiedJob, host: Host, link: Link | None = None) -> Result:
    """Run a verified job; a handler bug becomes a failed job with a summary, never a dead worker."""
    started = time.monotonic()
    operation = OPERATIONS[job.op]
    try:
        if operation.session_handler is not None:
            if link is None:
                raise RuntimeError(f"{job.op} needs a link to the control plane")
            return operation.session_handler(job, host, link)
        assert operation.handler is not None
        return operation.handler(job, host)
    except Exception as exc:
        name = type(exc).__name__
        log.error("job handler failed job_id=%s op=%s error=%s: %s", job.job_id, job.op, name, exc)
        log.debug("handler traceback", exc_info=True)
        error = {"code": "agent_error", "message": f"The agent failed to run {job.op}: {name}."}
        elapsed_ms = int((time.monotonic() - started) * 1000)
        return build_result(job, summary=f"agent_error: {error['message']}", vm=None, error=error,
                            exit_code=EXIT_NEEDS_OPERATOR, duration_ms=elapsed_ms)
