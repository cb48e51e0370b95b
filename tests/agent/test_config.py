"""Configuration: explicit argument → environment → default, and the host-name rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleetvisor_agent.config import ConfigError, resolve_config

ENV = {
    "FLEETVISOR_URL": "https://env.example/",
    "FLEETVISOR_ENROLLMENT_TOKEN": "fvet_env",
    "FLEETVISOR_LIBVIRT_URI": "qemu:///system",
    "FLEETVISOR_AGENT_STATE_DIR": "/srv/fv",
    "FLEETVISOR_AGENT_NAME": "env-name",
    "FLEETVISOR_ENVIRONMENT": "prod",
    "FLEETVISOR_AGENT_POLL_WAIT": "15",
    "FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "45",
}


def test_defaults_apply_without_arguments_or_environment() -> None:
    config = resolve_config(env={"XDG_STATE_HOME": "/x"}, hostname="hv1")

    assert (config.url, config.enrollment_token, config.libvirt_uri) == (None, None, "test:///default")
    assert (config.poll_wait, config.heartbeat_seconds, config.max_jobs) == (20, 30.0, 4)
    assert config.name == "hv1" and config.environment is None
    assert config.state_dir in (Path("/x/fleetvisor-agent"), Path("/var/lib/fleetvisor-agent"))


def test_environment_fills_what_arguments_leave_out() -> None:
    config = resolve_config(env=ENV, hostname="hv1")

    assert (config.url, config.enrollment_token, config.libvirt_uri) == (
        "https://env.example", "fvet_env", "qemu:///system")
    assert (config.state_dir, config.name, config.environment) == (Path("/srv/fv"), "env-name", "prod")
    assert (config.poll_wait, config.heartbeat_seconds) == (15, 45.0)


def test_a_host_allow_list_comes_from_the_environment() -> None:
    config = resolve_config(env={"FLEETVISOR_AGENT_ALLOWED_OPS": "vm.start, vm.shutdown"}, hostname="hv1")

    assert config.allowed_ops == {"vm.start", "vm.shutdown"}
    assert resolve_config(env={}, hostname="hv1").allowed_ops is None


def test_a_hosts_own_time_limits_come_from_the_environment() -> None:
    config = resolve_config(env={"FLEETVISOR_AGENT_OP_TIMEOUTS": "vm.snapshot_create=3600, vm.shutdown=1.5"},
                            hostname="hv1")

    assert dict(config.op_timeouts) == {"vm.snapshot_create": 3600.0, "vm.shutdown": 1.5}
    assert dict(resolve_config(env={}, hostname="hv1").op_timeouts) == {}


def test_explicit_arguments_win_over_the_environment() -> None:
    config = resolve_config(url="https://arg.example", token="fvet_arg", libvirt_uri="test:///default",
                            state_dir="/tmp/fv", name="arg-name", environment="dev", poll_wait=5, env=ENV,
                            hostname="hv1")

    assert (config.url, config.enrollment_token, config.libvirt_uri) == (
        "https://arg.example", "fvet_arg", "test:///default")
    assert (config.state_dir, config.name, config.environment, config.poll_wait) == (
        Path("/tmp/fv"), "arg-name", "dev", 5)


@pytest.mark.parametrize(("name", "environment", "expected"), [
    ("given", "prod", "given"),
    (None, "prod", "hv1-prod"),
    (None, None, "hv1"),
])
def test_name_is_configured_else_hostname_with_environment_else_hostname(
        name: str | None, environment: str | None, expected: str) -> None:
    assert resolve_config(name=name, environment=environment, env={}, hostname="hv1").name == expected


@pytest.mark.parametrize(("env", "message"), [
    ({"FLEETVISOR_URL": "ftp://x"}, "must start with https://"),
    ({"FLEETVISOR_AGENT_POLL_WAIT": "25"}, "FLEETVISOR_AGENT_POLL_WAIT must be from 1 to 20"),
    ({"FLEETVISOR_AGENT_POLL_WAIT": "soon"}, "FLEETVISOR_AGENT_POLL_WAIT must be a number"),
    ({"FLEETVISOR_ENVIRONMENT": "Prod!"}, "FLEETVISOR_ENVIRONMENT"),
    ({"FLEETVISOR_AGENT_NAME": "bad name"}, "not usable"),
    ({"FLEETVISOR_AGENT_LOG_LEVEL": "chatty"}, "FLEETVISOR_AGENT_LOG_LEVEL"),
    ({"FLEETVISOR_AGENT_ALLOWED_OPS": "vm.start;rm -rf"}, "FLEETVISOR_AGENT_ALLOWED_OPS"),
    ({"FLEETVISOR_AGENT_OP_TIMEOUTS": "vm.start"}, "FLEETVISOR_AGENT_OP_TIMEOUTS"),
    ({"FLEETVISOR_AGENT_OP_TIMEOUTS": "vm.start=0"}, "FLEETVISOR_AGENT_OP_TIMEOUTS"),
    ({"FLEETVISOR_AGENT_OP_TIMEOUTS": "vm.start=nan"}, "FLEETVISOR_AGENT_OP_TIMEOUTS"),
    ({"FLEETVISOR_AGENT_OP_TIMEOUTS": "start=10"}, "FLEETVISOR_AGENT_OP_TIMEOUTS"),
])
def test_unusable_values_are_refused_with_the_setting_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(env=env, hostname="hv1")
