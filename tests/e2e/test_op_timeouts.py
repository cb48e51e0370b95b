"""Per-operation time limits end to end, on a real slow operation: an ACPI shutdown that the VM ignores
(libvirt's test driver restarts `stubborn1` at once, so the shutdown waits its whole `timeout_seconds`),
on a host that allows vm.shutdown one second. Each attempt ends with exit code 124, the control plane
retries it with backoff, and once the attempts are spent the job ends `timed_out`, having forced nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import LocalStack
from tests.agent.conftest import STUBBORN1

from . import fault_helpers
from .fault_helpers import Operator, attempts_run

pytestmark = pytest.mark.e2e


@pytest.fixture
def stubborn_host(faulty: LocalStack, tmp_path: Path) -> Iterator[Operator]:
    with fault_helpers.stubborn_host(faulty, tmp_path / "stubborn.xml",
                                     extra_env={"FLEETVISOR_AGENT_OP_TIMEOUTS": "vm.shutdown=1"}) as op:
        yield op


def test_an_operation_past_its_time_limit_is_retried_then_ends_timed_out(faulty: LocalStack,
                                                                        stubborn_host: Operator) -> None:
    op = stubborn_host
    job = op.wait_final(op.act("shutdown", vm=STUBBORN1, timeout_seconds=30))

    assert (job["status"], job["exit_code"], job["attempt"]) == ("timed_out", 124, 3), job
    assert job["summary"] == "timed_out: vm.shutdown did not finish within 1 s; the agent stopped waiting for it."
    assert attempts_run(faulty, job["job_id"]) == [1, 2, 3]
    result = op.result(job)
    assert (result["attempt"], result["ok"], result["error"]["code"]) == (3, False, "operation_timeout")
    vm = op.get(f"/api/agents/{op.agent_id}/vms/{STUBBORN1}")
    assert vm["state"] == "running"  # the 30 s escalation never came: nothing was forced off
