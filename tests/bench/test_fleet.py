"""bench/fleet.py's arithmetic: what one window's counts say about an idle agent, and its month's price."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bench.fleet import Measured
from bench.simulated_agent import HEARTBEAT, POLL, RECEIVE, Tally, kind_of

MONTH_MINUTES = 730 * 60


def _window(requests: dict[str, Any], aws: dict[str, Any]) -> Measured:
    """A one-minute window of 100 agents in one process, 10 of them handed a job."""
    tally = Tally()
    for agent in range(100):
        tally.request(agent, HEARTBEAT)
        tally.request(agent, HEARTBEAT)
        for _ in range(3):
            tally.request(agent, RECEIVE)
    for agent in range(10):
        tally.handed_work(agent)
        tally.request(agent, POLL)
    before = (0.0, {"api": 1.0}, {"requests": {}, "aws": {}})
    after = (60.0, {"api": 4.0}, {"requests": requests, "aws": aws})
    return Measured(before, after, [tally.summary(list(range(100)))], [5.0], [20.0])


def test_an_idle_agent_is_one_never_handed_work_and_its_rates_are_per_minute() -> None:
    measured = _window({}, {})
    assert (measured.agents, measured.idle_agents) == (100, 90)
    assert (measured.idle_rate(HEARTBEAT), measured.idle_rate(RECEIVE), measured.idle_rate(POLL)) == (2, 3, 0)


def test_an_idle_month_prices_each_route_per_request_served_at_the_idle_rate() -> None:
    heartbeat = "POST /agent/v1/heartbeat"
    measured = _window(
        {heartbeat: {"requests": 200, "held_s": 10.0}, "POST /agent/v1/poll": {"requests": 10, "held_s": 1.0}},
        {heartbeat: {"dynamodb.UpdateItem": {"calls": 200, "read_units": 0.0, "write_units": 200.0}},
         "POST /agent/v1/poll": {"dynamodb.UpdateItem": {"calls": 10, "read_units": 0.0, "write_units": 10.0}}})
    usage = measured.idle_host_month()
    heartbeats = 2 * MONTH_MINUTES  # polls were the busy agents' only
    assert (usage.api_requests, usage.held_seconds, usage.write_units) == pytest.approx(
        (heartbeats, heartbeats * 0.05, heartbeats))
    assert usage.direct_sqs == pytest.approx(3 * MONTH_MINUTES)


def test_a_tally_counts_only_while_its_window_is_open() -> None:
    window = threading.Event()
    tally = Tally(window)
    tally.request(1, HEARTBEAT)
    tally.handed_work(1)
    window.set()
    tally.request(1, RECEIVE)
    assert tally.summary([1]) == {"agents": 1, "idle_agents": 1, "errors": 0, "idle": {RECEIVE: 1},
                                  "all": {RECEIVE: 1}}


@pytest.mark.parametrize(("path", "kind"), [("/agent/v1/heartbeat", HEARTBEAT), ("/agent/v1/poll?wait=0", POLL),
                                            ("/agent/v1/register", "API other")])
def test_requests_are_counted_by_the_route_they_call(path: str, kind: str) -> None:
    assert kind_of(path) == kind
