"""What `fleetvisor deploy` makes of its options before the API judges them: values typed by the
profile's inputs schema, repeated and file-given values, installers' inputs, sizes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from fleetvisor_cli.api import CliError
from fleetvisor_cli.deploying import Inputs, first_user, network, sizing, ssh_commands

PROFILE = {"inputs_schema": {"properties": {
    "hostname": {"x-kind": "hostname", "type": "string"}, "replicas": {"x-kind": "integer", "type": "integer"},
    "debug": {"x-kind": "boolean", "type": "boolean"},
    "keys": {"x-kind": "ssh-key", "type": "array", "x-multiple": True},
    "key": {"x-kind": "ssh-key", "type": "string"}}}}
NGINX = {"properties": {"port": {"x-kind": "port", "type": "integer"}}}


def _gathered(*pairs: str, chosen: tuple[str, ...] = ("nginx",)) -> Inputs:
    inputs = Inputs(PROFILE, {"nginx": NGINX}, list(chosen))
    for pair in pairs:
        key, _, raw = pair.partition("=")
        inputs.put(key, raw, repeatable=True)
    return inputs


def test_values_take_the_type_their_input_says_and_others_stay_as_written() -> None:
    inputs = _gathered("hostname=007", "replicas=3", "debug=Yes", "nginx.port=8080", "extra=1")
    assert inputs.body(["nginx"]) == (
        {"hostname": "007", "replicas": 3, "debug": True, "extra": "1"}, [{"id": "nginx", "inputs": {"port": 8080}}])
    # What does not convert is sent as written: the API's refusal names the field and why.
    assert _gathered("replicas=three", "debug=maybe").values[""] == {"replicas": "three", "debug": "maybe"}


def test_repeated_values_add_up_and_replace_what_the_file_gave(tmp_path: Path) -> None:
    (tmp_path / "keys.pub").write_text("# mine\nssh-ed25519 AAAA one\n\nssh-ed25519 AAAA two\n")
    inputs = Inputs(PROFILE, {}, [])
    inputs.put("keys", ["from the file"], repeatable=False)
    inputs.put("keys", f"@{tmp_path / 'keys.pub'}", repeatable=True)
    inputs.put("keys", "ssh-ed25519 AAAA three", repeatable=True)
    assert inputs.values[""]["keys"] == ["ssh-ed25519 AAAA one", "ssh-ed25519 AAAA two", "ssh-ed25519 AAAA three"]
    with pytest.raises(CliError, match="holds 2 keys; this input takes one") as refused:
        inputs.put("key", f"@{tmp_path / 'keys.pub'}", repeatable=True)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize(("pair", "why"), [("nginx.port=80", "'nginx' is not an installer chosen"),
                                           ("keys=@/no/such/file.pub", "cannot read /no/such/file.pub")])
def test_what_cannot_be_sent_is_refused_before_the_api_is_asked(pair: str, why: str) -> None:
    with pytest.raises(CliError, match=why):
        _gathered(pair, chosen=())


def _sizes(**given: Any) -> dict[str, int]:
    return sizing(argparse.Namespace(**{"vcpus": None, "memory": None, "disk": None, **given}))


def test_sizes_take_units_and_default_to_mib_for_memory_and_gib_for_disks() -> None:
    assert _sizes(vcpus=2, memory="4GiB", disk="1TiB") == {"vcpus": 2, "memory_mib": 4096, "disk_gib": 1024}
    assert _sizes(memory="512", disk="40") == {"memory_mib": 512, "disk_gib": 40}
    assert _sizes(memory="2g", disk="2048MiB") == {"memory_mib": 2048, "disk_gib": 2}
    for wrong in ({"memory": "lots"}, {"disk": "1500MiB"}, {"disk": "-3"}):
        with pytest.raises(CliError) as refused:
            _sizes(**wrong)
        assert refused.value.exit_code == 2


def test_who_logs_in_is_the_first_user_given_or_by_default_or_windows_administrator() -> None:
    ubuntu = {"inputs_schema": {"properties": {"username": {"default": "fleetadmin"}}},
              "manifest": {"first_boot": {"kind": "cloud-init"}}}
    windows = {"inputs_schema": {"properties": {}}, "manifest": {"first_boot": {"kind": "windows-unattend"}}}
    assert (first_user(ubuntu, {"username": "ada"}), first_user(ubuntu, {})) == ("ada", "fleetadmin")
    assert (first_user(windows, {}), first_user(None, {"username": "x"})) == ("Administrator", None)


def _network(network_name: str | None = None, *forwards: str) -> Any:
    return network(argparse.Namespace(network=network_name, forward=list(forwards)))


def test_network_is_the_profiles_a_named_one_or_user_mode_with_each_forward() -> None:
    assert (_network(), _network("lab")) == (None, "lab")
    assert _network(None, "2222:22", "8080:80@192.0.2.5", " 70000:22 ") == {"mode": "user", "forwards": [
        {"host_port": 2222, "guest_port": 22}, {"host_port": 8080, "guest_port": 80, "address": "192.0.2.5"},
        # Out of range is the API's to refuse, by field (network.forwards[2].host_port).
        {"host_port": 70000, "guest_port": 22}]}
    for wrong, why in ((("lab", "2222:22"), "do not go together"), ((None, "ssh"), "write HOST_PORT:GUEST_PORT"),
                       ((None, "2222:22@"), "write HOST_PORT"), ((None, "-1:22"), "write HOST_PORT")):
        with pytest.raises(CliError, match=why) as refused:
            _network(*wrong)
        assert refused.value.exit_code == 2


def test_the_ssh_command_comes_from_a_forward_to_port_22_else_the_first_address() -> None:
    forwards = ["127.0.0.1:8080->80/tcp", "127.0.0.1:2222->22/tcp"]
    assert ssh_commands("ada", [], forwards, "rack-1") == (
        "ssh -p 2222 ada@127.0.0.1", "the host itself; elsewhere: ssh -J rack-1 -p 2222 ada@127.0.0.1")
    assert ssh_commands("ada", [], ["192.0.2.5:2200->22/tcp"], "rack-1") == ("ssh -p 2200 ada@192.0.2.5", None)
    assert ssh_commands("ada", [], ["0.0.0.0:2200->22/tcp"], "rack-1") == ("ssh -p 2200 ada@rack-1", None)
    assert ssh_commands("ada", ["10.0.0.7"], ["127.0.0.1:8080->80/tcp"], "h") == ("ssh ada@10.0.0.7", None)
    assert ssh_commands("ada", [], ["127.0.0.1:8080->80/tcp"], "h") == (None, None)
    assert ssh_commands(None, ["10.0.0.7"], forwards, "h") == (None, None)
