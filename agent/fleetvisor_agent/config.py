"""The agent's settings, resolved once: explicit argument → environment → config file → default.

Nothing else in the agent reads the environment or the config file;
everything it needs to know about how it was started is in the frozen Config
built here.

The config file holds the same FLEETVISOR_… variables as KEY=VALUE lines, read
as systemd's EnvironmentFile= reads them (envfile.py), so one file serves the
agent run by hand and the service. Which file: `--config`, else
FLEETVISOR_AGENT_CONFIG, else /etc/fleetvisor/agent.env. A file named by either
must be there and readable; the default one may be missing (tests, and the
local stack's agent, name another default or none). The systemd service
names /dev/null: systemd has already read the 0600 file, as root, into the
service's environment (EnvironmentFile=), and its unprivileged user could not
read the file anyway.
Only FLEETVISOR_… names are taken from the file; anything else in it (a proxy,
say) reaches the agent only as the service's environment.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from . import envfile

DEFAULT_CONFIG_FILE = Path("/etc/fleetvisor/agent.env")
CONFIG_FILE_VARIABLE = "FLEETVISOR_AGENT_CONFIG"
DEFAULT_LIBVIRT_URI = "test:///default"
DEFAULT_POLL_WAIT = 20
MAX_POLL_WAIT = 20  # the control plane refuses longer waits: API Gateway cuts requests at 29 s
DEFAULT_HEARTBEAT_SECONDS = 420.0  # an open page asks for fresher news through the doorbell (heartbeat.py)
DEFAULT_MAX_JOBS = 4
MAX_JOBS = 10  # the most one poll may claim
# The control plane's own rules for host names and environments, so a bad value
# fails here with a clear message instead of as a 400 at enrolment.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
ENVIRONMENT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
OP_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_DEPLOY_POOL = "fleetvisor"
DEFAULT_DEPLOY_POOL_DIR = Path("/var/lib/fleetvisor/images")
POOL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_OP_TIMEOUT = 0.1
MAX_OP_TIMEOUT = 7 * 86400.0
Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class DeploySettings:
    """Where vm.deploy keeps images and disks, and which sources it may fetch from (jobs/deploy.py).

    `pool` is the agent's own libvirt storage pool, defined as a dir pool over `pool_dir` when missing;
    `allowed_sources` are URL prefixes fetched even though they resolve to a loopback, link-local or
    private address (a mirror on the host's LAN); downloads gather in `download_dir` (the state dir's
    `downloads/`) before they are verified and uploaded into the pool.
    """

    pool: str = DEFAULT_DEPLOY_POOL
    pool_dir: Path = DEFAULT_DEPLOY_POOL_DIR
    allowed_sources: tuple[str, ...] = ()
    download_dir: Path = Path("/var/lib/fleetvisor-agent/downloads")
    virt_type: str = "auto"  # "kvm" when libvirt offers it, else "qemu"; or one of them by choice


class ConfigError(ValueError):
    """A setting has a value the agent cannot use; the message names it."""


@dataclass(frozen=True)
class Config:
    url: str | None
    # A secret: kept out of repr() so it never reaches a log line.
    enrollment_token: str | None = field(repr=False)
    libvirt_uri: str
    state_dir: Path
    name: str
    environment: str | None
    hostname: str
    poll_wait: int
    heartbeat_seconds: float
    max_jobs: int
    log_level: str
    # None: every operation the agent knows; else only these (a host operator's own allow-list).
    allowed_ops: frozenset[str] | None
    # The host's own time limits per operation, in seconds, replacing the built-in ones (jobs/timeouts.py).
    op_timeouts: Mapping[str, float]
    journald: bool  # stdout is systemd's journal, which timestamps lines itself
    deploy: DeploySettings = DeploySettings()
    # VM statistics (metrics.py): sampled every `metrics_step_seconds`, uploaded once `metrics_batch_seconds` old.
    metrics_step_seconds: float = 60.0
    metrics_batch_seconds: float = 3600.0


def resolve_config(
    *,
    url: str | None = None,
    token: str | None = None,
    libvirt_uri: str | None = None,
    state_dir: str | Path | None = None,
    name: str | None = None,
    environment: str | None = None,
    poll_wait: int | None = None,
    heartbeat_seconds: float | None = None,
    max_jobs: int | None = None,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    hostname: str | None = None,
    default_config_file: Path | None = DEFAULT_CONFIG_FILE,
) -> Config:
    """Build the Config; `env` and `hostname` default to the process's own."""
    env = _with_config_file(os.environ if env is None else env, config_file, default_config_file)
    host = hostname or socket.gethostname()
    environment = _environment(_pick(environment, env, "FLEETVISOR_ENVIRONMENT"))
    chosen_state_dir = _state_dir(state_dir, env)
    return Config(
        url=_url(_pick(url, env, "FLEETVISOR_URL")),
        enrollment_token=_pick(token, env, "FLEETVISOR_ENROLLMENT_TOKEN"),
        libvirt_uri=_pick(libvirt_uri, env, "FLEETVISOR_LIBVIRT_URI") or DEFAULT_LIBVIRT_URI,
        state_dir=chosen_state_dir,
        name=_name(_pick(name, env, "FLEETVISOR_AGENT_NAME"), environment, host),
        environment=environment,
        hostname=host,
        poll_wait=_number("FLEETVISOR_AGENT_POLL_WAIT", poll_wait, env, kind=int, default=DEFAULT_POLL_WAIT,
                          low=1, high=MAX_POLL_WAIT),
        heartbeat_seconds=_number("FLEETVISOR_AGENT_HEARTBEAT_SECONDS", heartbeat_seconds, env, kind=float,
                                  default=DEFAULT_HEARTBEAT_SECONDS, low=1.0, high=3600.0),
        max_jobs=_number("FLEETVISOR_AGENT_MAX_JOBS", max_jobs, env, kind=int, default=DEFAULT_MAX_JOBS,
                         low=1, high=MAX_JOBS),
        log_level=_log_level(env.get("FLEETVISOR_AGENT_LOG_LEVEL")),
        allowed_ops=_allowed_ops(env.get("FLEETVISOR_AGENT_ALLOWED_OPS")),
        op_timeouts=_op_timeouts(env.get("FLEETVISOR_AGENT_OP_TIMEOUTS")),
        journald=_stdout_is_the_journal(env.get("JOURNAL_STREAM")),
        deploy=_deploy(env, chosen_state_dir),
        metrics_step_seconds=_number("FLEETVISOR_AGENT_METRICS_STEP_SECONDS", None, env, kind=float, default=60.0,
                                     low=1.0, high=3600.0),
        metrics_batch_seconds=_number("FLEETVISOR_AGENT_METRICS_BATCH_SECONDS", None, env, kind=float,
                                      default=3600.0, low=1.0, high=6 * 3600.0),
    )


def _with_config_file(env: Mapping[str, str], explicit: str | Path | None,
                      default: Path | None) -> Mapping[str, str]:
    """The environment over the config file's FLEETVISOR_… settings (an empty variable counts as unset)."""
    named = explicit or env.get(CONFIG_FILE_VARIABLE) or None
    path = Path(named) if named else default
    if path is None:
        return env
    from_file = {key: value for key, value in _read_config_file(path, named is not None).items()
                 if key.startswith("FLEETVISOR_") and key != CONFIG_FILE_VARIABLE}
    return {**from_file, **{key: value for key, value in env.items() if value}}


def _read_config_file(path: Path, named: bool) -> dict[str, str]:
    try:
        return envfile.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not named:
            return {}
        raise ConfigError(f"Config file {path} (--config or {CONFIG_FILE_VARIABLE}) does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"Config file {path} cannot be read ({reason}); name another with --config, or "
                          "--config /dev/null for none.") from exc


def _stdout_is_the_journal(stream: str | None) -> bool:
    """systemd.exec(5)'s test: JOURNAL_STREAM is "device:inode" of the journal stream, which stdout still is."""
    if not stream:
        return False
    try:
        info = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):  # no file behind stdout (io.UnsupportedOperation is both)
        return False
    return stream == f"{info.st_dev}:{info.st_ino}"


def default_state_dir(env: Mapping[str, str]) -> Path:
    """/var/lib for the system service, the XDG state dir for anyone else."""
    if os.geteuid() == 0:
        return Path("/var/lib/fleetvisor-agent")
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fleetvisor-agent"


def _pick(explicit: str | None, env: Mapping[str, str], key: str) -> str | None:
    if explicit:
        return explicit
    return env.get(key) or None


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(("https://", "http://")):
        raise ConfigError(f"FLEETVISOR_URL must start with https:// (or http:// locally), got {value!r}.")
    return value.rstrip("/")


def _state_dir(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    chosen = explicit or env.get("FLEETVISOR_AGENT_STATE_DIR")
    return Path(chosen) if chosen else default_state_dir(env)


def _name(configured: str | None, environment: str | None, hostname: str) -> str:
    name = configured or (f"{hostname}-{environment}" if environment else hostname)
    if not NAME_RE.match(name):
        raise ConfigError(f"Host name {name!r} is not usable: 1-63 letters, digits, '.', '_' or '-' "
                          "(set FLEETVISOR_AGENT_NAME).")
    return name


def _environment(value: str | None) -> str | None:
    if value is not None and not ENVIRONMENT_RE.match(value):
        raise ConfigError(f"FLEETVISOR_ENVIRONMENT {value!r} must be 1-32 lowercase letters, digits or '-'.")
    return value


def _allowed_ops(value: str | None) -> frozenset[str] | None:
    if not value:
        return None
    ops = frozenset(op.strip() for op in value.split(",") if op.strip())
    if not all(OP_RE.match(op) for op in ops):
        raise ConfigError(f"FLEETVISOR_AGENT_ALLOWED_OPS must be a comma-separated list like "
                          f"'vm.start,vm.shutdown', got {value!r}.")
    return ops


def _op_timeouts(value: str | None) -> Mapping[str, float]:
    """`vm.snapshot_create=3600,vm.shutdown=120`: seconds (0.1 to a week) per operation."""
    limits: dict[str, float] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        op, _, seconds = item.partition("=")
        try:
            limit = float(seconds)
        except ValueError:
            limit = -1.0
        if not OP_RE.match(op.strip()) or not MIN_OP_TIMEOUT <= limit <= MAX_OP_TIMEOUT:
            raise ConfigError(f"FLEETVISOR_AGENT_OP_TIMEOUTS must be a comma-separated list like "
                              f"'vm.snapshot_create=3600,vm.shutdown=120' (seconds from {MIN_OP_TIMEOUT} to "
                              f"{MAX_OP_TIMEOUT:.0f}), got {value!r}.")
        limits[op.strip()] = limit
    return MappingProxyType(limits)


def _deploy(env: Mapping[str, str], state_dir: Path) -> DeploySettings:
    """FLEETVISOR_AGENT_DEPLOY_POOL, FLEETVISOR_AGENT_DEPLOY_POOL_DIR, FLEETVISOR_AGENT_ALLOWED_SOURCES
    (space- or comma-separated http(s) URL prefixes) and FLEETVISOR_AGENT_DEPLOY_VIRT_TYPE."""
    pool = env.get("FLEETVISOR_AGENT_DEPLOY_POOL") or DEFAULT_DEPLOY_POOL
    if not POOL_NAME_RE.match(pool):
        raise ConfigError(f"FLEETVISOR_AGENT_DEPLOY_POOL must be 1-64 letters, digits, '.', '_' or '-', got {pool!r}.")
    pool_dir = Path(env.get("FLEETVISOR_AGENT_DEPLOY_POOL_DIR") or DEFAULT_DEPLOY_POOL_DIR)
    if not pool_dir.is_absolute():
        raise ConfigError(f"FLEETVISOR_AGENT_DEPLOY_POOL_DIR must be an absolute path, got {str(pool_dir)!r}.")
    sources = tuple(item for item in re.split(r"[\s,]+", env.get("FLEETVISOR_AGENT_ALLOWED_SOURCES", "")) if item)
    for source in sources:
        if not re.match(r"^https?://[^/?#@\s]+/", source):
            raise ConfigError("FLEETVISOR_AGENT_ALLOWED_SOURCES must be http(s) URL prefixes with a host and a "
                              f"path (ending at least in '/'), e.g. 'http://10.0.0.5/images/', got {source!r}.")
    virt_type = env.get("FLEETVISOR_AGENT_DEPLOY_VIRT_TYPE") or "auto"
    if virt_type not in ("auto", "kvm", "qemu"):
        raise ConfigError(f"FLEETVISOR_AGENT_DEPLOY_VIRT_TYPE must be auto, kvm or qemu, got {virt_type!r}.")
    return DeploySettings(pool=pool, pool_dir=pool_dir, allowed_sources=sources,
                          download_dir=state_dir / "downloads", virt_type=virt_type)


def _log_level(value: str | None) -> str:
    level = (value or "INFO").upper()
    if level not in LOG_LEVELS:
        choices = ", ".join(LOG_LEVELS)
        raise ConfigError(f"FLEETVISOR_AGENT_LOG_LEVEL must be one of {choices}, got {value!r}.")
    return level


def _number(key: str, explicit: Number | None, env: Mapping[str, str], *, kind: Callable[[Any], Number],
            default: Number, low: Number, high: Number) -> Number:
    raw: Any = explicit if explicit is not None else env.get(key) or default
    try:
        value = kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a number, got {raw!r}.") from exc
    if not low <= value <= high:
        raise ConfigError(f"{key} must be from {low} to {high}, got {value}.")
    return value
