"""What every job handler shares: the argument schema it declares and the Result it returns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..verify import VerifiedJob

EXIT_OK = 0
EXIT_INVALID = 1  # invalid input, invalid state, not found: retrying will not help
EXIT_TRANSIENT = 2  # worth another attempt later
EXIT_NEEDS_OPERATOR = 3  # the agent itself failed: someone has to look
SUMMARY_MAX = 1000  # the control plane keeps at most this much of a summary


@dataclass(frozen=True)
class ArgsSchema:
    """Exactly these fields, each a string matching its pattern in full, and nothing else."""

    fields: Mapping[str, re.Pattern[str]]

    def matches(self, args: Mapping[str, Any]) -> bool:
        if set(args) != set(self.fields):
            return False
        return all(isinstance(args[name], str) and pattern.fullmatch(args[name]) is not None
                   for name, pattern in self.fields.items())


@dataclass(frozen=True)
class Result:
    """How a job ended: the exit code and summary for `complete`, the uploaded document, the VM after it."""

    exit_code: int
    summary: str
    document: dict[str, Any]
    vm: dict[str, str] | None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


def build_result(job: VerifiedJob, *, summary: str, vm: dict[str, str] | None, error: dict[str, str] | None,
                 exit_code: int, duration_ms: int) -> Result:
    """A Result whose document is the protocol's result JSON (docs/protocol.md, "Result JSON")."""
    document = {"job_id": job.job_id, "attempt": job.attempt, "op": job.op, "ok": exit_code == EXIT_OK,
                "vm": vm, "error": error, "duration_ms": duration_ms}
    return Result(exit_code=exit_code, summary=summary[:SUMMARY_MAX], document=document, vm=vm)
