"""Hosts as operators see them, and the heartbeats that keep them current.

Liveness at a price (issue 15). A heartbeat costs an API request and a
DynamoDB write, so agents beat every 7 minutes (± 10 %), not every 30 s: with
their 20 s waits on their own queue that keeps an idle host under $0.10 a
month. A host is `stale` once nothing was heard for `stale_after_seconds` (10
min: a beat may be late or retried), `lost` after `lost_after_seconds`. Nobody
needs fresher news of a host nobody looks at. Someone looking gets it: an open
hosts page calls `ping` every 40 s, which rings the doorbell (`ping`) of each
host not heard from for `ping_after_seconds` (30 s); the agent answers with a heartbeat
at once. A ping still unanswered after `ping_answer_seconds` (15 s) shows the host
stale, so a host that dies under someone's eyes is stale within two minutes
(30 s unheard + two 40 s ticks), while one nobody watches costs a beat per
7 minutes. `pinged_ms` is written with a condition, so many open pages ask a
host once per `ping_after_seconds`, not once each. An agent still waiting in the
API's long poll (no queue of its own) reads the ping there, and that poll
answers for it (`answer_ping`).
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.expressions.update import Action

from .. import store, validate
from ..changes import logic as changes
from ..errors import Invalid, NotFound
from ..jobs import doorbell
from ..settings import settings
from ..vms import logic as vms
from .capabilities import console_unavailable
from .capabilities import parse as parse_capabilities
from .models import Agent


def owned(owner_id: str, agent_id: str, include_pending: bool = False) -> Agent:
    """The host if `owner_id` owns it; anyone else's host does not exist for them.

    A host still waiting for approval is only reachable for approving,
    rejecting, labelling or deregistering it.
    """
    return check_owned(store.get_or_none(Agent, agent_id[:64]), owner_id, include_pending)


def check_owned(agent: Agent | None, owner_id: str, include_pending: bool = False) -> Agent:
    """`owned` for a host already read (None: not stored)."""
    if agent is None or agent.owner_id != owner_id or agent.revoked \
            or (agent.approval != "approved" and not include_pending):
        raise NotFound("No such host.", "agent_not_found")
    return agent


def list_owned(owner_id: str) -> list[Agent]:
    return [a for a in Agent.by_owner.query(owner_id) if not a.revoked]


def host_names(owner_id: str) -> dict[str, str]:
    """The owner's approved hosts' names by id, from an index that holds only names and standing: one
    small query for 500 hosts (the fleet list's, per page)."""
    return {agent.agent_id: agent.name for agent in Agent.names_by_owner.query(owner_id)
            if not agent.revoked and agent.approval == "approved"}


def status(agent: Agent, now_ms: int) -> str:
    if agent.approval != "approved":
        return "pending"
    seen_ms = int(agent.last_seen_ms or 0)
    if not seen_ms:
        return "lost"
    age = (now_ms - seen_ms) / 1000
    config = settings()
    if age < config.stale_after_seconds and not _ping_unanswered(agent, now_ms):
        return "online"
    if age < config.lost_after_seconds:
        return "stale"
    return "lost"


def _ping_unanswered(agent: Agent, now_ms: int) -> bool:
    pinged_ms = int(agent.pinged_ms or 0)
    return pinged_ms > int(agent.last_seen_ms or 0) and now_ms - pinged_ms > settings().ping_answer_seconds * 1000


MAX_PINGED = 200  # hosts one page may name: more than fit on any screen


def ping(owner_id: str, only: set[str] | None = None) -> int:
    """Ask each of the owner's hosts (or those of them in `only`: the ones on the page's screen) not heard
    from for `ping_after_seconds` for a heartbeat now (its doorbell); how many were asked. A host already
    asked within that time is not asked again. Each answer is a heartbeat (about $5 per million), so a
    page asks only for what it shows: a wall screen of 200 hosts pays for the few in view."""
    now_ms = int(time.time() * 1000)
    quiet_since = now_ms - settings().ping_after_seconds * 1000
    asked = 0
    for agent in list_owned(owner_id):
        if only is not None and agent.agent_id not in only:
            continue
        if agent.approval != "approved" or not agent.queue_url or int(agent.last_seen_ms or 0) > quiet_since:
            continue
        with store.race() as claim:
            agent.update(actions=[Agent.pinged_ms.set(now_ms)],
                         condition=Agent.pinged_ms.does_not_exist() | (Agent.pinged_ms <= quiet_since))
        if claim.lost:
            continue  # another page asked this host moments ago
        if doorbell.ring(agent.queue_url, doorbell.PING):
            asked += 1
        else:
            # Not asked, so its silence would mean nothing: it must not turn the host stale.
            agent.update(actions=[Agent.pinged_ms.remove()])
    return asked


def answer_ping(agent: Agent) -> None:
    """The host's agent read a ping in the API's long poll: that poll is the sign of life it asked for."""
    now_ms = int(time.time() * 1000)
    was_away = status(agent, now_ms) != "online"
    agent.update(actions=[Agent.last_seen_ms.set(now_ms)])
    if was_away:
        changes.bump(agent.owner_id)


def view(agent: Agent, vm_count: int | None = None) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {"agent_id": agent.agent_id, "name": agent.name, "hostname": agent.hostname,
            "environment": agent.environment, "status": status(agent, now_ms),
            "last_seen_ms": int(agent.last_seen_ms) or None,
            "pinged_ms": None if agent.pinged_ms is None else int(agent.pinged_ms),
            "enrolled_ms": int(agent.enrolled_ms),
            "capabilities": agent.capabilities or {},
            "console_unavailable": console_unavailable(agent.capabilities or {}),
            "vm_count": vm_count, "labels": agent.labels or {},
            "approval": agent.approval, "pending_reregistration": bool(agent.pending_public_key),
            "pending_since_ms": None if agent.pending_since_ms is None else int(agent.pending_since_ms)}


def heartbeat(agent: Agent, body: dict[str, Any]) -> None:
    capabilities = parse_capabilities(body)
    reports = [vms.parse_report(item) for item in validate.array(body, "vms", max_items=vms.MAX_VMS)]
    if len({r["uuid"] for r in reports}) != len(reports):
        raise Invalid("'vms' lists a UUID twice.")
    inventory_changed = vms.sync_inventory(agent.agent_id, agent.owner_id, reports)
    now_ms = int(time.time() * 1000)
    was_away = status(agent, now_ms) != "online"
    # A heartbeat without capabilities (a minimal client) keeps the ones last reported rather than blanking them.
    actions: list[Action] = [Agent.last_seen_ms.set(now_ms)]
    if "capabilities" in body:
        actions.append(Agent.capabilities.set(capabilities))
    agent.update(actions=actions)
    # Capabilities (free memory) differ in nearly every beat: only what an operator watches for wakes pages.
    if inventory_changed or was_away:
        changes.bump(agent.owner_id)
