"""First-boot rendering: cloud-config validated against cloud-init's vendored schema, the runner it
writes run for real (exit codes, retries with backoff, timeouts, serial console lines), meta-data,
and Windows answer files held to our unattend schema. Pure functions and /bin/sh: no emulator."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from chalicelib.deployments import cloudinit, manifests, plan, unattend
from chalicelib.errors import InvalidFields
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jsonschema import Draft4Validator

KEY = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
VENDORED = json.loads((manifests.HERE / "schemas" / "cloud-config-v1.json").read_text())


def find(extra: dict[tuple[str, str], Any] | None = None) -> plan.Finder:
    known = {**manifests.builtins(), **(extra or {})}
    return lambda kind, manifest_id: known.get((kind, manifest_id))


def ubuntu(**inputs: Any) -> dict[str, Any]:
    return {"profile": "ubuntu-24.04", "inputs": {"hostname": "web-1", "ssh_keys": [KEY], **inputs}}


def seed_files(made: plan.Plan) -> dict[str, str]:
    files: dict[str, str] = made.args["cdroms"][-1]["generated"]["files"]
    return files


def test_ubuntu_user_data_passes_cloud_inits_schema_and_holds_no_clear_password() -> None:
    made = plan.plan({**ubuntu(password="correct horse battery", packages="htop jq", timezone="Europe/Paris"),
                      "installers": ["nginx", {"id": "docker", "inputs": {"compose": False}}]}, find(), None)
    text = seed_files(made)["user-data"]
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert list(Draft4Validator(VENDORED).iter_errors(config)) == []
    user = config["users"][0]
    assert user["name"] == "fleetadmin" and user["ssh_authorized_keys"] == [KEY] and user["lock_passwd"] is False
    assert user["hashed_passwd"].startswith("$6$rounds=") and "correct horse" not in json.dumps(made.args)
    assert (config["hostname"], config["timezone"], config["packages"]) == ("web-1", "Europe/Paris", ["htop", "jq"])
    assert config["ssh_pwauth"] is False and config["runcmd"] == [[cloudinit.RUNNER]]
    envs = {f["path"]: f["content"] for f in config["write_files"] if f["path"].endswith(".env")}
    assert envs == {"/etc/fleetvisor/installers/01-nginx.env": "NGINX_PORT='80'\n",
                    "/etc/fleetvisor/installers/02-docker.env": "DOCKER_USER='fleetadmin'\nDOCKER_COMPOSE='false'\n"}


def test_without_a_password_the_account_is_locked() -> None:
    user = yaml.safe_load(seed_files(plan.plan(ubuntu(), find(), None))["user-data"])["users"][0]
    assert user["lock_passwd"] is True and "hashed_passwd" not in user


def test_meta_data_names_the_instance_and_host() -> None:
    meta = yaml.safe_load(seed_files(plan.plan(ubuntu(), find(), None))["meta-data"])
    assert meta["local-hostname"] == "web-1" and meta["instance-id"].startswith("iid-fv-")


def test_the_vendored_schema_refuses_what_cloud_init_would_not_take() -> None:
    with pytest.raises(cloudinit.RenderError, match="users"):
        cloudinit.check({"users": [{"name": "x", "lock_passwd": "no"}]})
    with pytest.raises(cloudinit.RenderError):
        cloudinit.check({"hostname": "x", "no_such_module_key": True})


def test_deploy_args_follow_the_contract() -> None:
    args = plan.plan({**ubuntu(), "sizing": {"vcpus": 4}}, find(), None).args
    assert args["name"] == "web-1" and (args["vcpus"], args["memory_mib"]) == (4, 4096)
    assert args["disk"]["mode"] == "overlay" and args["disk"]["size_gib"] == 40
    assert set(args["disk"]["source"]) == {"url", "sha256", "format", "max_bytes"}
    assert args["cdroms"][0]["generated"]["label"] == "cidata"
    assert args["first_boot"] == {"marker": "FLEETVISOR-FIRST-BOOT", "timeout_seconds": 1800}
    assert args["boot"] == ["hd", "cdrom"]



def test_the_network_is_the_profiles_a_named_one_or_user_mode_with_forwards() -> None:
    assert plan.plan(ubuntu(), find(), None).args["network"] == "default"
    assert plan.plan({**ubuntu(), "network": "lan"}, find(), None).args["network"] == "lan"
    user = plan.plan({**ubuntu(), "network": {"mode": "user", "forwards": [
        {"host_port": 2222, "guest_port": 22}, {"host_port": 8080, "guest_port": 80, "address": "192.0.2.7"}]}},
        find(), None)
    assert user.args["network"] == {"mode": "user", "forwards": [
        {"address": "127.0.0.1", "host_port": 2222, "guest_port": 22},
        {"address": "192.0.2.7", "host_port": 8080, "guest_port": 80}]}
    assert user.summary["network"] == user.args["network"]


@pytest.mark.parametrize(("network", "where"), [
    ("no spaces", "network"), (7, "network"), ({"mode": "bridge"}, "network"),
    ({"mode": "user", "forwards": [{"host_port": 1, "guest_port": 2}] * 9}, "network"),
    ({"mode": "user", "forwards": [{"host_port": 0, "guest_port": 22}]}, "network.forwards[0].host_port"),
    ({"mode": "user", "forwards": [{"host_port": 2222, "guest_port": True}]}, "network.forwards[0].guest_port"),
    ({"mode": "user", "forwards": [{"host_port": [2222], "guest_port": 22}]}, "network.forwards[0].host_port"),
    ({"mode": "user", "forwards": {"host_port": 2222}}, "network"), (["default"], "network"),
    ({"mode": "user", "forwards": [{"host_port": 2222, "guest_port": 22, "address": "::1"}]},
     "network.forwards[0].address"),
    ({"mode": "user", "forwards": [{"host_port": 2222, "guest_port": 22, "address": "127.0.0.1,x"}]},
     "network.forwards[0].address"),
    ({"mode": "user", "forwards": [{"host_port": 2222, "guest_port": 22},
                                   {"host_port": 2222, "guest_port": 80}]}, "network.forwards[1].host_port"),
    ({"mode": "user", "forwards": [{"host_port": 2222, "guest_port": 22, "proto": "udp"}]}, "network.forwards[0]"),
])
def test_a_bad_network_is_refused_naming_where(network: Any, where: str) -> None:
    with pytest.raises(InvalidFields) as refused:
        plan.plan({**ubuntu(), "network": network}, find(), None)
    assert where in refused.value.fields


# --- the first-boot runner, run for real ---------------------------------------------------------

def installer(installer_id: str, script: str, timeout: int = 10, retries: int = 0) -> dict[str, Any]:
    return manifests.check({"kind": "installer", "id": installer_id, "version": 1, "title": installer_id,
                            "first_boot": ["cloud-init"], "timeout_seconds": timeout, "retries": retries,
                            "inputs": [{"name": "greeting", "type": "string", "default": "it's me"}],
                            "script": "#!/bin/sh\n" + script})


def run_first_boot(tmp_path: Path, installers: list[dict[str, Any]]) -> list[str]:
    extra = {("installer", i["id"]): i for i in installers}
    made = plan.plan({**ubuntu(), "installers": [i["id"] for i in installers]}, find(extra), None)
    for item in yaml.safe_load(seed_files(made)["user-data"])["write_files"]:
        path = tmp_path / item["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item["content"])
        path.chmod(int(item["permissions"], 8))
    console = tmp_path / "ttyS0"
    env = {**os.environ, "FLEETVISOR_ROOT": str(tmp_path), "FLEETVISOR_CONSOLE": str(console),
           "FLEETVISOR_RETRY_DELAY": "1"}
    subprocess.run(["/bin/sh", str(tmp_path / cloudinit.RUNNER.lstrip("/"))], env=env, check=True, timeout=60,
                   capture_output=True)
    return console.read_text().splitlines()


def test_the_runner_reports_each_exit_code_and_then_done(tmp_path: Path) -> None:
    lines = run_first_boot(tmp_path, [
        installer("ok", 'echo "$GREETING"; exit 0'),
        installer("bad-input", "exit 1"),
        installer("flaky", '[ -f "$0.ran" ] && exit 0; touch "$0.ran"; echo first try failed; exit 2', retries=2),
        installer("needs-operator", "exit 3"),
        installer("slow", "sleep 30", timeout=10),
        installer("odd", "exit 42"),
    ])
    exits = [line.split()[1:] for line in lines if " exit=" in line]
    assert exits == [["installer=ok", "exit=0"], ["installer=bad-input", "exit=1"], ["installer=flaky", "exit=0"],
                     ["installer=needs-operator", "exit=3"], ["installer=slow", "exit=124"],
                     ["installer=odd", "exit=2"]]
    assert lines[-1] == "FLEETVISOR-FIRST-BOOT done"
    said = [base64.b64decode(line.split("line=")[1]).decode() for line in lines if "installer=ok line=" in line]
    assert said == ["it's me"]  # the input reached the script's environment, quotes and all
    flaky = [base64.b64decode(line.split("line=")[1]).decode() for line in lines if "installer=flaky line=" in line]
    assert flaky == ["first try failed", "exit 2: retrying in 1 s"]


def test_without_installers_the_runner_says_done(tmp_path: Path) -> None:
    assert run_first_boot(tmp_path, []) == ["FLEETVISOR-FIRST-BOOT done"]


# --- Windows ------------------------------------------------------------------------------------

WINDOWS = {"profile": "windows-server-2022",
           "inputs": {"computer_name": "win-1", "iso_url": "https://example.com/eval.iso", "iso_sha256": "AB" * 32}}


def test_windows_answer_file_fits_our_schema_with_the_password_sealed() -> None:
    made = plan.plan(WINDOWS, find(), None)
    text = seed_files(made)["Autounattend.xml"]
    unattend.check(text)
    (placeholder, sealed), = made.vault.values.items()
    assert made.generated_password == sealed and placeholder in text and sealed not in json.dumps(made.args)
    root = ET.fromstring(text)
    ns = {"u": unattend.NS}
    assert root.find(".//u:ComputerName", ns).text == "win-1"  # type: ignore[union-attr]
    assert root.find(".//u:MetaData/u:Value", ns).text == "2"  # type: ignore[union-attr]
    assert made.args["cdroms"][0] == {"source": {"url": "https://example.com/eval.iso", "sha256": "ab" * 32,
                                                 "max_bytes": 8589934592}}
    assert (made.args["firmware"], made.args["secure_boot"], made.args["tpm"], made.args["nic_model"]) == \
        ("uefi", True, True, "e1000e")
    assert made.args["disk"] == {"size_gib": 64, "mode": "blank"}


def test_a_given_password_is_used_xml_escaped_and_nothing_is_generated() -> None:
    made = plan.plan({**WINDOWS, "inputs": {**WINDOWS["inputs"], "admin_password": "a<b&c>d'e\"f-long"}}, find(), None)
    assert made.generated_password is None
    assert list(made.vault.values.values()) == ["a&lt;b&amp;c&gt;d&apos;e&quot;f-long"]


def test_the_iso_may_come_from_a_pool() -> None:
    inputs = {"computer_name": "win-1", "iso_source": "pool", "iso_volume": "eval.iso", "iso_sha256": "ab" * 32}
    made = plan.plan({"profile": "windows-server-2022", "inputs": inputs}, find(), None)
    assert made.args["cdroms"][0] == {"source": {"pool": "default", "volume": "eval.iso", "sha256": "ab" * 32}}


def test_generated_passwords_meet_windows_complexity() -> None:
    for _ in range(50):
        password = unattend.generate_password()
        assert len(password) == 20 and any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and not set(password) & set("<>&'\" \\$`")


@pytest.mark.parametrize(("old", "new"), [
    ("<ComputerName>win-1</ComputerName>", "<ComputerName>win-1-much-too-long</ComputerName>"),
    ("<ComputerName>win-1</ComputerName>", "<ComputerName>win-1</ComputerName><Extra>1</Extra>"),
    ("<AcceptEula>true</AcceptEula>", "<AcceptEula>false</AcceptEula>"),
    ("<WillWipeDisk>true</WillWipeDisk>", ""),
    ('pass="specialize"', 'pass="auditUser"'),
    ('processorArchitecture="amd64"', 'processorArchitecture="x86"'),
    ("urn:schemas-microsoft-com:unattend", "urn:example"),
    ("<Value>2</Value>", "<Value>9</Value>"),
    ("</unattend>", "<settings/></unattend>"),
    ("</unattend>", ""),
])
def test_our_unattend_schema_refuses_what_we_do_not_emit(old: str, new: str) -> None:
    text = seed_files(plan.plan(WINDOWS, find(), None))["Autounattend.xml"]
    assert old in text
    with pytest.raises(unattend.RenderError):
        unattend.check(text.replace(old, new, 1))


def test_a_computer_name_over_15_characters_is_refused_before_rendering() -> None:
    with pytest.raises(InvalidFields) as caught:
        plan.plan({**WINDOWS, "inputs": {**WINDOWS["inputs"], "computer_name": "a" * 16}}, find(), None)
    assert set(caught.value.fields) == {"inputs.computer_name"}


# --- Windows with the virtio driver ISO -------------------------------------------------------------

DRIVERS = {"drivers_source": "url", "drivers_url": "https://example.com/virtio-win.iso", "drivers_sha256": "CD" * 32}
FOLDERS = ["viostor\\2k22\\amd64", "vioscsi\\2k22\\amd64", "NetKVM\\2k22\\amd64"]


def windows(**inputs: Any) -> dict[str, Any]:
    return {**WINDOWS, "inputs": {**WINDOWS["inputs"], **inputs}}


def driver_paths(text: str) -> list[str]:
    root = ET.fromstring(text)
    ns = {"u": unattend.NS}
    [component] = [c for c in root.findall("u:settings[@pass='windowsPE']/u:component", ns)
                   if c.get("name") == "Microsoft-Windows-PnpCustomizationsWinPE"] or [None]
    if component is None:
        return []
    entries = component.findall("u:DriverPaths/u:PathAndCredentials", ns)
    assert [e.get(f"{{{unattend.WCM}}}keyValue") for e in entries] == [str(i) for i in range(1, len(entries) + 1)]
    return [e.findtext("u:Path", namespaces=ns) or "" for e in entries]


def test_without_the_driver_iso_the_domain_stays_sata_and_e1000e() -> None:
    # Driver inputs typed but hidden (the source left at "none") are dropped, not used.
    made = plan.plan(windows(drivers_url=DRIVERS["drivers_url"], drivers_sha256="cd" * 32), find(), None)
    assert (made.args["disk_bus"], made.args["nic_model"]) == ("sata", "e1000e")
    assert [list(cdrom) for cdrom in made.args["cdroms"]] == [["source"], ["generated"]]
    text = seed_files(made)["Autounattend.xml"]
    unattend.check(text)
    assert "PnpCustomizations" not in text and driver_paths(text) == []


def test_a_driver_iso_is_the_second_cdrom_makes_disk_and_nic_virtio_and_setup_looks_on_every_letter() -> None:
    made = plan.plan(windows(**DRIVERS), find(), None)
    installer, drivers, generated = made.args["cdroms"]
    assert installer == {"source": {"url": "https://example.com/eval.iso", "sha256": "ab" * 32,
                                    "max_bytes": 8589934592}}
    assert drivers == {"source": {"url": "https://example.com/virtio-win.iso", "sha256": "cd" * 32,
                                  "max_bytes": 2147483648}}
    assert generated["generated"]["label"] == "UNATTEND"
    assert (made.args["disk_bus"], made.args["nic_model"]) == ("virtio", "virtio")
    assert (made.args["firmware"], made.args["secure_boot"], made.args["tpm"], made.args["machine"]) == \
        ("uefi", True, True, "q35")
    assert made.args["boot"] == ["hd", "cdrom"]
    text = generated["generated"]["files"]["Autounattend.xml"]
    unattend.check(text)
    assert driver_paths(text) == [f"{letter}:\\{folder}" for folder in FOLDERS for letter in "CDEFG"]


def test_the_driver_iso_may_come_from_a_pool() -> None:
    made = plan.plan(windows(drivers_source="pool", drivers_volume="virtio-win-0.1.262.iso",
                             drivers_sha256="cd" * 32), find(), None)
    assert made.args["cdroms"][1] == {"source": {"pool": "default", "volume": "virtio-win-0.1.262.iso",
                                                 "sha256": "cd" * 32}}
    assert made.args["disk_bus"] == "virtio"


@pytest.mark.parametrize(("given", "fields"), [
    ({"drivers_source": "url", "drivers_url": "https://example.com/v.iso"}, {"inputs.drivers_sha256"}),
    ({"drivers_source": "url", "drivers_sha256": "cd" * 32}, {"inputs.drivers_url"}),
    ({"drivers_source": "pool", "drivers_sha256": "cd" * 32}, {"inputs.drivers_volume"}),
    ({"drivers_source": "pool", "drivers_volume": "v.iso", "drivers_pool": "no such/pool", "drivers_sha256": "cd" * 32},
     {"inputs.drivers_pool"}),
    ({**DRIVERS, "drivers_url": "ftp://example.com/v.iso", "drivers_sha256": "cd" * 31}, {
        "inputs.drivers_url", "inputs.drivers_sha256"}),
    ({"drivers_source": "floppy"}, {"inputs.drivers_source"}),
    ({"iso_source": "pool", "iso_url": "", "drivers_source": "pool", "drivers_volume": "v.iso"},
     {"inputs.iso_volume", "inputs.drivers_sha256"}),  # no error beside a field the form hides
])
def test_bad_driver_inputs_are_refused_naming_each_field(given: dict[str, Any], fields: set[str]) -> None:
    with pytest.raises(InvalidFields) as caught:
        plan.plan(windows(**given), find(), None)
    assert set(caught.value.fields) == fields


def test_an_iso_without_its_checksum_is_refused_even_where_the_form_does_not_require_it() -> None:
    """An operator's profile whose ISO inputs are all optional and always shown: the plan still holds each ISO to
    its checksum, and the installer ISO to being given, naming the input."""
    profile = json.loads(json.dumps(manifests.builtins()[("profile", "windows-server-2022")]))
    for spec in profile["inputs"]:
        if spec["name"].startswith(("iso_", "drivers_")):
            spec.pop("visible_if", None)
            spec.pop("required", None)
    mine = find({("profile", "windows-server-2022"): profile})
    with pytest.raises(InvalidFields) as caught:
        plan.plan({"profile": "windows-server-2022", "inputs": {
            "computer_name": "win-1", "drivers_url": "https://example.com/v.iso"}}, mine, None)
    assert caught.value.fields == {"inputs.iso_url": "is required: the installer ISO's URL (or a volume).",
                                   "inputs.drivers_sha256": "is required with the driver ISO: its SHA-256."}
    made = plan.plan(windows(drivers_url="https://example.com/v.iso", drivers_sha256="cd" * 32), mine, None)
    assert made.args["cdroms"][1]["source"]["url"] == "https://example.com/v.iso"


@pytest.mark.parametrize(("old", "new"), [
    ("<Path>C:\\viostor\\2k22\\amd64</Path>", "<Path>\\\\server\\share\\drivers</Path>"),
    ("<Path>C:\\viostor\\2k22\\amd64</Path>", "<Path>H:\\viostor\\2k22\\amd64</Path>"),
    ("<Path>C:\\viostor\\2k22\\amd64</Path>", "<Path>C:\\..\\Windows</Path>"),
    ("<Path>C:\\viostor\\2k22\\amd64</Path>",
     "<Path>C:\\viostor\\2k22\\amd64</Path><Credentials><Username>u</Username></Credentials>"),
    ('wcm:action="add" wcm:keyValue="1"', 'wcm:action="add"'),
    ('wcm:keyValue="1"', 'wcm:keyValue="0"'),
    ('name="Microsoft-Windows-PnpCustomizationsWinPE"', 'name="Microsoft-Windows-PnpCustomizationsNonWinPE"'),
    ("<DriverPaths>", "<DriverPaths><Extra>1</Extra>"),
])
def test_our_unattend_schema_refuses_driver_settings_we_do_not_emit(old: str, new: str) -> None:
    text = seed_files(plan.plan(windows(**DRIVERS), find(), None))["Autounattend.xml"]
    assert old in text
    with pytest.raises(unattend.RenderError):
        unattend.check(text.replace(old, new, 1))


def test_the_driver_component_is_refused_outside_windows_pe() -> None:
    text = seed_files(plan.plan(windows(**DRIVERS), find(), None))["Autounattend.xml"]
    start = text.index('<component name="Microsoft-Windows-PnpCustomizationsWinPE"')
    end = text.index("</component>", start) + len("</component>")
    component = text[start:end]
    moved = text[:start] + text[end:]
    moved = moved.replace('<settings pass="specialize">', '<settings pass="specialize">' + component, 1)
    with pytest.raises(unattend.RenderError):
        unattend.check(moved)
    unattend.check(text[:start] + text[end:])  # without it, the file is the one made without a driver ISO


def test_the_manifest_schema_and_the_unattend_grammar_agree_on_driver_folders() -> None:
    items = manifests.manifest_schema()["$defs"]["profile"]["properties"]["driver_media"]["properties"][
        "driver_paths"]["items"]
    for folder in [*FOLDERS, "amd64", "a\\b\\c\\d", "a\\b\\c\\d\\e", "..\\x", "a/b", "a\\", "C:\\x", "-a", "a" * 65]:
        assert bool(re.fullmatch(items["pattern"][1:-1], folder)) == bool(
            re.fullmatch(unattend.DRIVER_FOLDER, folder)), folder


def test_a_deployment_too_large_for_a_signed_job_is_refused_naming_the_installers() -> None:
    big = installer("big", "# " + "x" * 30_000 + "\nexit 0")
    bigger = {**big, "id": "bigger"}
    with pytest.raises(InvalidFields) as caught:
        plan.plan({**ubuntu(), "installers": ["big", "bigger"]},
                  find({("installer", "big"): big, ("installer", "bigger"): bigger}), None)
    assert "fit in a signed job" in caught.value.fields["installers"]


@pytest.mark.parametrize("installer_id", ["nginx", "docker"])
def test_builtin_installer_scripts_parse(tmp_path: Path, installer_id: str) -> None:
    script = tmp_path / "script.sh"
    script.write_text(manifests.builtins()[("installer", installer_id)]["script"])
    assert subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize(("installer_id", "env"), [
    ("nginx", {"NGINX_PORT": "eighty"}), ("nginx", {"NGINX_PORT": "70000"}),
    ("nginx", {"NGINX_SERVER_NAME": "a;rm -rf /"}), ("docker", {"DOCKER_USER": "Robert'); DROP"}),
])
def test_builtin_installers_refuse_bad_input_with_exit_1_before_touching_anything(
        tmp_path: Path, installer_id: str, env: dict[str, str]) -> None:
    script = tmp_path / "script.sh"
    script.write_text(manifests.builtins()[("installer", installer_id)]["script"])
    # No apt-get, systemctl or nginx on PATH: a script that went past its checks would fail otherwise.
    done = subprocess.run(["/bin/sh", str(script)], env={"PATH": "/nonexistent", **env}, capture_output=True,
                          text=True, check=False, timeout=10)
    assert done.returncode == 1, done.stderr
