"""Which agent poller speaks for a host now, so that an abandoned long poll claims nothing.

The API cannot tell that the client behind a long poll has gone (a Lambda
runs on after its caller hangs up). When an agent process dies and a new one
starts, the old process's poll may wait on for up to its whole wait, and a
job queued meanwhile (above all the retry of the attempt the new process has
just reported interrupted) would be claimed into it and held for the
claim-ack window (30 s) before it came back.

So the long-running agent names its poller in every token (`inst`: random
per process start, plus a generation it counts up whenever a poll fails on
the way, since a poll cut off by the network lives on at the API the same
way). The first call of a new poller records it on the host (one write
per process start or failed poll), and a waiting poll re-reads the host once per wake, just
before it would claim, and claims nothing when another process has taken
over: it hands what its doorbell brought back to the doorbell, for the poll
that speaks for the host now. The same re-read ends a poll whose host was
deregistered or re-keyed while it waited.

What is left: a poll that re-read the host a moment before a new process's
first call can still claim one job into the void; that job comes back after
the claim-ack window, as before. Two processes sharing one identity (a
copied state file) take the host from each other on every call: each write
is cheap, and both still run only jobs they claimed. Tokens without `inst`
(one-shot commands such as `fleetvisor-agent deregister`) change nothing.
"""

from __future__ import annotations

import logging

from .. import store
from ..errors import Unauthorized
from . import tokens
from .models import Agent

log = logging.getLogger("fleetvisor.agents")


def take_over(agent: Agent, instance: str) -> None:
    """Record `instance` as the host's current poller, if it is not already."""
    if agent.instance == instance:
        return
    previous = agent.instance
    # Only a host deleted meanwhile fails the condition; a throttled write is a 503, never a 401 that
    # would tell the agent its identity is gone.
    with store.race() as taking:
        agent.update(actions=[Agent.instance.set(instance)], condition=Agent.agent_id.exists())
    if taking.lost:
        raise Unauthorized("The agent token is not valid.") from taking.error
    if previous is not None:
        log.info("agent poller replaced agent_id=%s", agent.agent_id)


def still_current(agent: Agent) -> bool:
    """Whether the poller this poll speaks for (recorded when it authenticated) still holds the host;
    Unauthorized/Forbidden when the host was deregistered, re-keyed or sent back to approval meanwhile."""
    now = store.get_or_none(Agent, agent.agent_id, consistent_read=True,
                            attributes_to_get=["instance", "revoked", "approval", "public_key"])
    if now is None or now.public_key != agent.public_key:
        raise Unauthorized("The agent token is not valid.")
    tokens.check_standing(now)
    return agent.instance is None or now.instance == agent.instance
