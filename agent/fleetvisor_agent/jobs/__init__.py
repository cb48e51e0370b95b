"""The registry of job types: operation name → handler and argument schema.

Each job type is a module with one `handle(job, host) -> Result` and `OPS`,
the ArgsSchema of each operation it handles; the verifier consults
`args_valid` and `allowed_ops`, the runner calls `run`. Adding a job type is
adding a module and a line here.

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
from . import inspect, snapshots, vm_config, vm_power
from .base import (
    EXIT_INVALID,
    EXIT_NEEDS_OPERATOR,
    EXIT_OK,
    EXIT_TRANSIENT,
    ArgsSchema,
    Result,
    build_result,
    vm_now,
)

log = logging.getLogger(__name__)

Handler = Callable[[VerifiedJob, Host], Result]

__all__ = ["EXIT_INVALID", "EXIT_NEEDS_OPERATOR", "EXIT_OK", "EXIT_TRANSIENT", "OPERATIONS", "ArgsSchema",
           "Handler", "Operation", "Result", "allowed_ops", "args_valid", "run", "vm_now"]


@dataclass(frozen=True)
class Operation:
    handler: Handler
    args: ArgsSchema


def _register(*modules: tuple[Handler, Mapping[str, ArgsSchema]]) -> dict[str, Operation]:
    return {op: Operation(handler, schema) for handler, ops in modules for op, schema in ops.items()}


OPERATIONS: Mapping[str, Operation] = _register(
    (vm_power.handle, vm_power.OPS),
    (vm_config.handle, vm_config.OPS),
    (snapshots.handle, snapshots.OPS),
    (inspect.handle, inspect.OPS),
)


def allowed_ops(configured: Collection[str] | None = None) -> frozenset[str]:
    """The operations this agent runs: those it has handlers for, narrowed by the host's own allow-list."""
    known = frozenset(OPERATIONS)
    return known if configured is None else known & frozenset(configured)


def args_valid(op: str, args: Mapping[str, Any]) -> bool:
    operation = OPERATIONS.get(op)
    return operation is not None and operation.args.matches(args)


def run(job: VerifiedJob, host: Host) -> Result:
    """Run a verified job; a handler bug becomes a failed job with a summary, never a dead worker."""
    started = time.monotonic()
    try:
        return OPERATIONS[job.op].handler(job, host)
    except Exception as exc:
        name = type(exc).__name__
        log.error("job handler failed job_id=%s op=%s error=%s: %s", job.job_id, job.op, name, exc)
        log.debug("handler traceback", exc_info=True)
        error = {"code": "agent_error", "message": f"The agent failed to run {job.op}: {name}."}
        elapsed_ms = int((time.monotonic() - started) * 1000)
        return build_result(job, summary=f"agent_error: {error['message']}", vm=None, error=error,
                            exit_code=EXIT_NEEDS_OPERATOR, duration_ms=elapsed_ms)
