"""Fixtures for the real-QEMU tests: libvirtd started if needed, the guest image built, one shared guest.

These tests never skip: with no libvirtd they start it (`virtlogd -d`,
`libvirtd -d`), as CI does, and a missing tool is a failure that says what to
install. Operations go through the agent's own entry point, `jobs.run(job,
host)`, with a VerifiedJob built here; their effect is checked with `virsh`.
The figures measured on the way (build, boot, shutdown) are printed at the end
of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fleetvisor_agent import jobs
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.verify import VerifiedJob

from .guest import URI, Image, QemuGuest, define_guest, prepare

TIMINGS: dict[str, float] = {}

RunJob = Callable[..., jobs.Result]


@pytest.fixture(scope="session")
def image() -> Image:
    built = prepare()
    TIMINGS["guest image build (cached after the first)"] = built.build_seconds
    return built


@pytest.fixture(scope="session")
def host(image: Image) -> Iterator[Host]:
    """The agent's own view of qemu:///system, connected (and subscribed to events) for the whole run."""
    qemu = Host(URI)
    qemu.connection()
    yield qemu
    qemu.close()


@pytest.fixture(scope="session")
def guest(image: Image) -> Iterator[QemuGuest]:
    """One VM shared by every test that can share it (each test brings it to the state it needs)."""
    shared = define_guest(image)
    yield shared
    shared.remove()


@pytest.fixture
def run(host: Host) -> RunJob:
    """run(op, vm=None, **args): the job as the agent would run it after verifying it."""
    counter = iter(range(1, 1_000_000))

    def run_job(op: str, vm: QemuGuest | None = None, **args: Any) -> jobs.Result:
        if vm is not None:
            args["vm_uuid"] = vm.uuid
        assert jobs.args_valid(op, args), f"{op} {args} would be refused as bad_args"
        job = VerifiedJob(job_id=f"job_qemu_{next(counter)}", agent_id="ag_qemu", op=op, args=args,
                          issued_at=0, expires_at=2**31, attempt=1, kid="k")
        return jobs.run(job, host)

    return run_job


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("fleetvisor test guest: measured")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what:<55} {seconds:6.1f} s")
