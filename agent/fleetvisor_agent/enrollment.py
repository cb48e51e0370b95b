"""Joining and leaving the fleet: the state to start from, enrolment, pinned signing keys, deregistration,
one agent per state dir.

Enrolment sends the agent's public key (the private half never leaves the
state file) and pins the job-signing keys the control plane answers with
(trust on first use, like the enrolment token itself). After that the pinned
keys change only through a signed announcement (announcements.py) that a key
already pinned vouches for: `follow_announcement`.
Registering again with the same name and key re-uses the host's record, so a
lost answer or a repeated `fleetvisor-agent enroll` is harmless. When the
owner must approve the host first, the control plane answers 202: the agent
keeps its key (and the token, to ask again) and registers again later, with
the same token and key, until it is approved.

Deregistering tells the control plane that the host leaves, then forgets the
identity: agent id, pinned keys and the private key itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .announcements import verify_announcement
from .client import ApiError, ControlPlane, Unauthorized
from .config import Config
from .hypervisor.errors import HypervisorError
from .hypervisor.host import Host
from .state import (
    STATE_FILE,
    AgentState,
    StateError,
    ensure_state_dir,
    load_state,
    new_state,
    public_key_from_b64,
    save_state,
)
from .verify import Refused

# sysexits' EX_CONFIG: configuration, enrolment or state problems that a restart cannot fix; the
# message says what to do. (1 stays what Python uses for a crash.)
EXIT_CONFIG = 78
LOCK_FILE = "agent.lock"

log = logging.getLogger(__name__)


class FatalError(Exception):
    """The agent cannot go on; the message tells the operator what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def prepare_state(config: Config) -> AgentState:
    """The saved identity (with a changed control-plane URL applied), or a fresh one to enrol."""
    try:
        state = load_state(config.state_dir)
    except StateError as exc:
        raise FatalError(str(exc)) from exc
    if state is None:
        if not config.url:
            raise FatalError("Not enrolled and no control-plane URL: set FLEETVISOR_URL (or --url) "
                             "and FLEETVISOR_ENROLLMENT_TOKEN (or --token).")
        return new_state(config.url)
    if config.url and config.url != state.url:
        log.warning("control-plane URL changed from %s to %s; keeping this host's identity",
                    state.url, config.url)
        state.url = config.url
        if state.enrolled:
            save_state(config.state_dir, state)
    return state


def enroll(config: Config, state: AgentState, client: ControlPlane, host: Host, *,
           budget: float | None) -> bool:
    """Register this host and pin its job-signing keys: True once approved, False while it waits for its owner."""
    token = config.enrollment_token or state.enrollment_token
    if not token:
        raise FatalError("This host is not enrolled: set FLEETVISOR_ENROLLMENT_TOKEN (or run "
                         "`fleetvisor-agent enroll --url URL --token TOKEN`).")
    # The key is on disk before it is sent, so a lost answer is retried with the same key.
    save_state(config.state_dir, state)
    try:
        answer = client.register(token, name=config.name, hostname=config.hostname,
                                 environment=config.environment, public_key=state.public_key,
                                 capabilities=capabilities_or_empty(host), budget=budget)
    except ApiError as exc:
        raise FatalError(f"Enrolment with {state.url} failed: {exc.message} ({exc.code}).") from exc
    if answer.get("status") == "pending_approval":
        _await_approval(config, state, token, answer)
        return False
    state.agent_id = str(answer["agent_id"])
    state.owner_id = str(answer.get("owner_id") or "") or None
    state.name = str(answer.get("name") or config.name)
    state.signing_keys = parse_signing_keys(answer.get("signing_keys"))
    state.signing_keys_serial = 0
    state.enrollment_token = None
    save_state(config.state_dir, state)
    try:
        follow_announcement(config, state, answer.get("key_announcement"))
    except Refused as refusal:
        log.warning("the enrolment's key announcement was refused reason=%s detail=%s: the next heartbeat "
                    "brings another", refusal.reason, refusal.detail)
    log.info("enrolled agent_id=%s name=%s url=%s signing_kids=%s", state.agent_id, state.name, state.url,
             ",".join(sorted(state.signing_keys)))
    if not state.signing_keys:
        log.warning("the control plane announced no job-signing keys: every job will be refused "
                    "(unknown_kid)")
    return True


def _await_approval(config: Config, state: AgentState, token: str, answer: dict[str, Any]) -> None:
    # The control plane accepts no call from this key until the owner approves it; the agent id it named
    # is only for the log. Key and token stay on disk (0600), so asking again is the same request.
    if state.enrollment_token != token:
        state.enrollment_token = token
        save_state(config.state_dir, state)
    log.warning("this host waits for its owner's approval agent_id=%s name=%s url=%s: approve it in "
                "Fleetvisor (Hosts); the agent asks again by itself", answer.get("agent_id"),
                answer.get("name") or config.name, state.url)


def deregister(config: Config, state: AgentState, client: ControlPlane) -> str:
    """Leave the fleet, then forget this identity (agent id, pinned keys, private key); returns what was done."""
    if state.agent_id is None:
        return _forget_pending(config, state)
    try:
        client.deregister()
    except Unauthorized as exc:
        if exc.code != "agent_revoked":
            raise FatalError(f"The control plane at {state.url} does not accept this host's identity "
                             f"({exc.code}: {exc.message}); nothing was changed.") from exc
        log.info("the control plane had already deregistered this host agent_id=%s", state.agent_id)
    except ApiError as exc:
        raise FatalError(f"Deregistration with {state.url} failed: {exc.message} ({exc.code}); "
                         "nothing was changed.") from exc
    # A new, unenrolled identity replaces the old one: nothing left on disk can act for the old agent.
    save_state(config.state_dir, new_state(state.url))
    log.info("deregistered agent_id=%s url=%s", state.agent_id, state.url)
    return (f"Deregistered {state.agent_id} ({state.name}) from {state.url}; its agent id, pinned job-signing "
            f"keys and private key are gone from {config.state_dir / STATE_FILE}. Enrol again with a new "
            "token to bring this host back.")


def _forget_pending(config: Config, state: AgentState) -> str:
    if state.enrollment_token is None:
        return f"This host is not enrolled with {state.url}: nothing to deregister."
    # A host waiting for approval may not call the control plane; its owner rejects the waiting record.
    save_state(config.state_dir, new_state(state.url))
    return (f"Forgot this host's pending enrolment with {state.url} (key and token); its owner can reject "
            "the waiting host in Fleetvisor.")


def follow_announcement(config: Config, state: AgentState, envelope: object) -> bool:
    """Pin the keys a signed announcement names (True if they changed), or raise Refused and change nothing."""
    announced = verify_announcement(envelope, state.pinned_keys(), state.signing_keys_serial)
    if (announced.serial, announced.keys) == (state.signing_keys_serial, state.signing_keys):
        return False
    log.info("job-signing keys updated serial=%d kids=%s (were serial=%d kids=%s)", announced.serial,
             ",".join(sorted(announced.keys)), state.signing_keys_serial, ",".join(sorted(state.signing_keys)))
    state.signing_keys, state.signing_keys_serial = announced.keys, announced.serial
    save_state(config.state_dir, state)
    return True


def parse_signing_keys(announced: object) -> dict[str, str]:
    """{kid: public key} from the protocol's [{kid, public_key}]; entries that are not keys are dropped."""
    keys: dict[str, str] = {}
    for entry in announced if isinstance(announced, list) else []:
        kid = entry.get("kid") if isinstance(entry, dict) else None
        value = entry.get("public_key") if isinstance(entry, dict) else None
        try:
            if not isinstance(kid, str) or not isinstance(value, str):
                raise ValueError("kid and public_key must be strings")
            public_key_from_b64(value)
        except ValueError as exc:
            log.warning("ignored an announced signing key kid=%r: %s", kid, exc)
            continue
        keys[kid] = value
    return keys


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """One agent per state dir: two pollers with one identity would fight over every claim."""
    ensure_state_dir(state_dir)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise FatalError(f"Another agent is already running with state dir {state_dir}; stop it first.") \
                from exc
        yield
    finally:
        os.close(fd)


def capabilities_or_empty(host: Host) -> dict[str, Any]:
    try:
        return host.capabilities()
    except HypervisorError as exc:
        log.warning("enrolling without capabilities: %s", exc.message)
        return {}
