"""Hosts as operators see them, and the heartbeat that keeps them current."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pynamodb.expressions.update import Action

from .. import store, validate
from ..changes import logic as changes
from ..errors import Invalid, NotFound
from ..settings import settings
from ..vms import logic as vms
from .enrollment import MAX_CAPABILITIES
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


LABEL_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")
MAX_LABELS = 20


def parse_labels(body: dict[str, Any]) -> dict[str, str]:
    labels = validate.mapping(body, "labels")
    if len(labels) > MAX_LABELS:
        raise Invalid(f"A host may carry at most {MAX_LABELS} labels.")
    for key, value in labels.items():
        if not LABEL_KEY_RE.match(key) or not isinstance(value, str) or len(value) > 200 \
                or not validate.LABEL_RE.match(value):
            raise Invalid(f"Label '{key[:64]}' must be a lowercase name with a short printable text value.")
    return labels


def list_owned(owner_id: str) -> list[Agent]:
    return [a for a in Agent.by_owner.query(owner_id) if not a.revoked]


def status(agent: Agent, now_ms: int) -> str:
    age = (now_ms - int(agent.last_seen_ms)) / 1000
    config = settings()
    if agent.approval != "approved":
        return "pending"
    if agent.last_seen_ms and age < config.stale_after_seconds:
        return "online"
    if agent.last_seen_ms and age < config.lost_after_seconds:
        return "stale"
    return "lost"


def view(agent: Agent, vm_count: int | None = None) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {"agent_id": agent.agent_id, "name": agent.name, "hostname": agent.hostname,
            "environment": agent.environment, "status": status(agent, now_ms),
            "last_seen_ms": int(agent.last_seen_ms) or None, "enrolled_ms": int(agent.enrolled_ms),
            "capabilities": agent.capabilities or {}, "vm_count": vm_count, "labels": agent.labels or {},
            "approval": agent.approval, "pending_reregistration": bool(agent.pending_public_key),
            "pending_since_ms": None if agent.pending_since_ms is None else int(agent.pending_since_ms)}


def heartbeat(agent: Agent, body: dict[str, Any]) -> None:
    capabilities = validate.mapping(body, "capabilities", required=False)
    if len(json.dumps(capabilities)) > MAX_CAPABILITIES:
        raise Invalid(f"'capabilities' may be at most {MAX_CAPABILITIES} bytes of JSON.")
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
