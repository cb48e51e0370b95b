"""The table of time limits: every operation has one, vm.shutdown's follows its escalation, a host may set its own."""

from __future__ import annotations

from fleetvisor_agent import jobs
from fleetvisor_agent.jobs.timeouts import DEFAULT, SHUTDOWN_MARGIN, TIMEOUTS, Limit, time_limit

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def test_every_operation_has_its_own_limit() -> None:
    assert set(TIMEOUTS) == set(jobs.OPERATIONS)


def test_a_shutdown_may_run_its_escalation_plus_a_margin() -> None:
    assert time_limit("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 300}) == 300 + SHUTDOWN_MARGIN
    assert time_limit("vm.shutdown", {"vm_uuid": UUID}) == SHUTDOWN_MARGIN


def test_a_hosts_own_limit_replaces_the_tables_whole() -> None:
    configured = {"vm.shutdown": 2.0}
    assert time_limit("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 300}, configured) == 2.0
    assert time_limit("vm.start", {"vm_uuid": UUID}, configured) == TIMEOUTS["vm.start"].seconds  # type: ignore[union-attr]


def test_an_operation_without_an_entry_gets_the_default() -> None:
    assert time_limit("vm.unheard_of", {}) == DEFAULT.seconds


def test_an_operation_that_runs_until_closed_may_have_no_limit() -> None:
    table = {**TIMEOUTS, "console.attach": None, "console.capped": Limit(12 * 3600)}
    assert time_limit("console.attach", {}, table=table) is None
    assert time_limit("console.capped", {}, table=table) == 43200
    assert time_limit("console.attach", {}, {"console.attach": 60.0}, table=table) == 60.0


def test_a_deploy_may_run_its_own_time_plus_the_first_boot_it_watches() -> None:
    from fleetvisor_agent.jobs.timeouts import DEPLOY_SECONDS

    assert time_limit("vm.deploy", {"first_boot": {"marker": "M", "timeout_seconds": 1800}}) == DEPLOY_SECONDS + 1800
    assert time_limit("vm.deploy", {"first_boot": None}) == DEPLOY_SECONDS
