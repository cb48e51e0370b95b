"""Configuration: explicit argument → environment → config file → default, and the host-name rule."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fleetvisor_agent import envfile
from fleetvisor_agent.config import Config, ConfigError
from fleetvisor_agent.config import resolve_config as resolve_with_defaults


def resolve_config(**settings: Any) -> Config:
    """The agent's resolution, never reading this machine's own /etc/fleetvisor/agent.env."""
    return resolve_with_defaults(**{"default_config_file": None, **settings})

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
    assert (config.poll_wait, config.heartbeat_seconds, config.max_jobs) == (20, 420.0, 4)
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


# -- the config file ---------------------------------------------------------------------------------

def _file(tmp_path: Path, text: str, name: str = "agent.env") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_config_file_fills_what_arguments_and_environment_leave_out(tmp_path: Path) -> None:
    path = _file(tmp_path, "FLEETVISOR_URL=https://file.example\nFLEETVISOR_LIBVIRT_URI=qemu:///system\n"
                           "FLEETVISOR_AGENT_NAME=file-name\nFLEETVISOR_AGENT_MAX_JOBS=2\n"
                           "FLEETVISOR_AGENT_POLL_WAIT=7\n")
    env = {"FLEETVISOR_AGENT_NAME": "env-name", "FLEETVISOR_AGENT_POLL_WAIT": ""}  # empty counts as unset

    config = resolve_config(url="https://arg.example", config_file=path, env=env, hostname="hv1")

    assert (config.url, config.name, config.libvirt_uri) == ("https://arg.example", "env-name", "qemu:///system")
    assert (config.max_jobs, config.poll_wait, config.heartbeat_seconds) == (2, 7, 420.0)


def test_the_file_is_the_argument_else_the_environment_variable_else_the_default(tmp_path: Path) -> None:
    files = {which: _file(tmp_path, f"FLEETVISOR_AGENT_NAME={which}\n", f"{which}.env")
             for which in ("argument", "variable", "default")}
    env = {"FLEETVISOR_AGENT_CONFIG": str(files["variable"])}

    def name(**settings: Any) -> str:
        return resolve_config(hostname="hv1", default_config_file=files["default"], **settings).name

    assert name(config_file=files["argument"], env=env) == "argument"
    assert name(env=env) == "variable"
    assert name(env={}) == "default"


def test_a_missing_default_file_is_no_file(tmp_path: Path) -> None:
    config = resolve_config(env={}, hostname="hv1", default_config_file=tmp_path / "absent.env")

    assert (config.url, config.name, config.max_jobs) == (None, "hv1", 4)


HINT = "; name another with --config, or --config /dev/null for none."


@pytest.mark.parametrize(("how", "message"), [
    ("argument", "absent.env (--config or FLEETVISOR_AGENT_CONFIG) does not exist."),
    ("variable", "absent.env (--config or FLEETVISOR_AGENT_CONFIG) does not exist."),
    ("directory", "conf.d cannot be read (Is a directory)" + HINT),
    ("not utf-8", "latin1.env cannot be read (not UTF-8 text)" + HINT),
    ("default is a directory", "conf.d cannot be read (Is a directory)" + HINT),
])
def test_a_named_file_that_is_missing_or_unreadable_is_a_clear_error(tmp_path: Path, how: str,
                                                                     message: str) -> None:
    absent, directory = tmp_path / "absent.env", tmp_path / "conf.d"
    directory.mkdir()
    latin1 = tmp_path / "latin1.env"
    latin1.write_bytes(b"FLEETVISOR_AGENT_NAME=h\xf4te\n")
    settings: dict[str, Any] = {
        "argument": {"config_file": absent}, "variable": {"env": {"FLEETVISOR_AGENT_CONFIG": str(absent)}},
        "directory": {"config_file": directory}, "not utf-8": {"config_file": latin1},
        "default is a directory": {"default_config_file": directory}}[how]

    with pytest.raises(ConfigError) as refused:
        resolve_config(hostname="hv1", **{"env": {}, **settings})
    assert str(refused.value) == f"Config file {tmp_path}/{message}"


def test_dev_null_names_no_settings_at_all(tmp_path: Path) -> None:
    default = _file(tmp_path, "FLEETVISOR_AGENT_NAME=from-default\n")

    config = resolve_config(env={"FLEETVISOR_AGENT_CONFIG": os.devnull}, hostname="hv1", default_config_file=default)

    assert config.name == "hv1"


def test_only_the_agents_own_settings_come_from_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, "HTTPS_PROXY=http://proxy:3128\nXDG_STATE_HOME=/elsewhere\nJOURNAL_STREAM=1:2\n"
                           "FLEETVISOR_AGENT_CONFIG=/nowhere.env\nFLEETVISOR_AGENT_NAME=hv-from-file\n")

    config = resolve_config(config_file=path, env={"XDG_STATE_HOME": "/x"}, hostname="hv1")

    assert config.name == "hv-from-file" and config.journald is False
    assert config.state_dir in (Path("/x/fleetvisor-agent"), Path("/var/lib/fleetvisor-agent"))


def test_the_file_the_install_script_writes_is_read_with_systemds_quoting_and_comments(tmp_path: Path) -> None:
    path = _file(tmp_path, """# Fleetvisor agent settings (see /opt/fleetvisor-agent/share/doc/README.md).
FLEETVISOR_LIBVIRT_URI=qemu:///system
FLEETVISOR_URL=https://fleet.example.com
  ; added by hand:
FLEETVISOR_AGENT_NAME = "rack4-hv1"
FLEETVISOR_AGENT_OP_TIMEOUTS='vm.snapshot_create=3600, vm.shutdown=120'
FLEETVISOR_AGENT_ALLOWED_OPS=vm.start,\\
vm.shutdown
FLEETVISOR_ENVIRONMENT=prod # an unquoted '#' is part of the value, as systemd reads it
""")
    with pytest.raises(ConfigError, match="FLEETVISOR_ENVIRONMENT \"prod # an unquoted"):
        resolve_config(config_file=path, env={}, hostname="hv1")
    path.write_text(path.read_text().replace(" # an unquoted '#' is part of the value, as systemd reads it", ""))

    config = resolve_config(config_file=path, env={}, hostname="hv1")

    assert (config.url, config.libvirt_uri, config.name, config.environment) == (
        "https://fleet.example.com", "qemu:///system", "rack4-hv1", "prod")
    assert dict(config.op_timeouts) == {"vm.snapshot_create": 3600.0, "vm.shutdown": 120.0}
    assert config.allowed_ops == {"vm.start", "vm.shutdown"}


# Each checked against systemd 252's own parser (its environment.d generator shares EnvironmentFile='s).
@pytest.mark.parametrize(("text", "values"), [
    ("A=plain value  \n", {"A": "plain value"}),
    ('B="double \\" quoted \\\\ back \\x kept"\n', {"B": 'double " quoted \\ back \\x kept'}),
    ("C='single \\n verbatim'\n", {"C": "single \\n verbatim"}),
    ('D=a"b"c\n', {"D": 'a"b"c'}),
    ("E=\"a\" b 'c'\n", {"E": "ab 'c'"}),
    ("  F  =  spaced  \n", {"F": "spaced"}),
    ("G=esc\\ aped\\\\\n", {"G": "esc aped\\"}),
    ("H=continued \\\nline\n", {"H": "continued line"}),
    ('I="multi\nline"\n', {"I": "multi\nline"}),
    ("# a comment continued \\\nJ=hidden\nK=shown\n", {"K": "shown"}),
    ("; semicolon\nno equals sign\n1BAD=x\n=x\n", {}),
    ("L=trailing\\ \n", {"L": "trailing "}),
    ('M="unterminated\n', {"M": "unterminated\n"}),
    ("N=first\nN=second\r\nO=$HOME `id` $(id)\n", {"N": "second", "O": "$HOME `id` $(id)"}),
])
def test_values_are_parsed_as_systemds_environment_file_parses_them(text: str, values: dict[str, str]) -> None:
    assert envfile.parse(text) == values


# systemd's environment.d generator parses with the very code EnvironmentFile= uses (env-file.c). It also
# expands $VAR and skips empty assignments, which EnvironmentFile= does not do: the random files below hold
# no '$', and our empty assignments are skipped for the comparison.
SYSTEMD_PARSER = Path("/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator")
TRICKY = ["a", "b", " ", "=", "#", ";", "'", '"', "\\", "\n", "\t", "x", "K", "_", "\n", "=", "\r"]


def _systemd_reads(text: str, home: Path) -> dict[str, str]:
    (home / "environment.d" / "50-agent.conf").write_text(text)
    done = subprocess.run([str(SYSTEMD_PARSER)], env={"XDG_CONFIG_HOME": str(home), "HOME": str(home)},
                          capture_output=True, text=True, timeout=10, check=True)
    # It prints what it read as KEY=VALUE, the value double-quoted with JSON's escapes when it needs quoting.
    pairs = (line.partition("=") for line in done.stdout.splitlines())
    return {key: json.loads(value) if value.startswith('"') else value for key, _, value in pairs}


def test_the_parser_agrees_with_systemds_own_on_random_files(tmp_path: Path) -> None:
    assert SYSTEMD_PARSER.exists(), "systemd is missing: scripts/setup.sh installs it"
    (tmp_path / "environment.d").mkdir()
    machine = _systemd_reads("", tmp_path)  # what the machine's own environment.d files add
    chooser = random.Random(20261204)
    for _ in range(300):
        text = "".join(chooser.choice(TRICKY) for _ in range(chooser.randint(1, 40)))
        theirs = {k: v for k, v in _systemd_reads(text, tmp_path).items() if machine.get(k) != v}
        assert {k: v for k, v in envfile.assignments(text) if v} == theirs, repr(text)


def test_deploy_settings_come_from_the_environment() -> None:
    config = resolve_config(env={"FLEETVISOR_AGENT_DEPLOY_POOL": "images",
                                 "FLEETVISOR_AGENT_DEPLOY_POOL_DIR": "/srv/img",
                                 "FLEETVISOR_AGENT_ALLOWED_SOURCES": "http://10.0.0.5/images/, https://mirror.lan/",
                                 "FLEETVISOR_AGENT_STATE_DIR": "/srv/fv"}, hostname="hv1")

    assert config.deploy.pool == "images" and config.deploy.pool_dir == Path("/srv/img")
    assert config.deploy.allowed_sources == ("http://10.0.0.5/images/", "https://mirror.lan/")
    assert config.deploy.download_dir == Path("/srv/fv/downloads")
    defaults = resolve_config(env={}, hostname="hv1").deploy
    assert (defaults.pool, defaults.pool_dir, defaults.allowed_sources) == (
        "fleetvisor", Path("/var/lib/fleetvisor/images"), ())


@pytest.mark.parametrize(("key", "value"), [
    ("FLEETVISOR_AGENT_ALLOWED_SOURCES", "http://10.0.0.5"),  # no path: would match 10.0.0.50 too
    ("FLEETVISOR_AGENT_ALLOWED_SOURCES", "ftp://mirror.lan/"),
    ("FLEETVISOR_AGENT_DEPLOY_POOL", "my pool"),
    ("FLEETVISOR_AGENT_DEPLOY_POOL_DIR", "relative/dir"),
])
def test_unusable_deploy_settings_are_refused(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        resolve_config(env={key: value}, hostname="hv1")
