"""A deployment request → the `vm.deploy` job's arguments (the contract's shape), or every reason it is refused.

Request: {"profile": id, "installers": [id | {"id", "inputs"}], "inputs": {...}, "sizing": {...},
"name": optional VM name (default: the profile's `name_input`), "network": optional}. All of it is checked before
anything is rendered, and all refusals come back together, keyed by where they are:
`profile`, `name`, `inputs.<name>`, `installers`, `installers.<id>`, `installers.<id>.<name>`,
`sizing.<name>`, `network.forwards[<i>].<key>`, or the top-level field itself.

ISOs: a profile's `install_media` (the installer, required) and `driver_media` (optional: a driver ISO
such as virtio-win) are read from the inputs they name (`iso_source`): a URL, else a pool volume, each
with its SHA-256 (refused, naming the input, when missing). The cdroms are the installer ISO (it
boots), the driver ISO when given, then the generated first-boot medium. A driver ISO given switches
`machine` to its `with_drivers` (virtio disk and NIC for Windows) and has the answer file point Setup
at its `driver_paths`; left empty, nothing of it appears and the VM is as `machine` says.

`network` is where the VM's NIC goes: absent, the profile's libvirt network (`default` unless the
profile names one); a string, another libvirt network of the host; or
`{"mode": "user", "forwards": [{"host_port", "guest_port", "address"?}]}`, QEMU's user-mode NIC
with TCP forwards from the host (at most 8, host ports distinct, `address` an IPv4 literal of the
host, 127.0.0.1 unless given: reachable only from the host itself until an operator says otherwise).
The agent's side is agent/fleetvisor_agent/hypervisor/usernet.py.

Rendering (cloud-init or Windows unattend) happens only for a request that passed, and the result
is checked against its schema before a job exists. Secrets that must reach the guest in clear go
into the vault (sealing.py) and only their placeholders into the arguments.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import validate
from ..errors import InvalidFields
from ..jobs.signing import canonical
from ..sealing import Vault
from . import cloudinit, inputs, manifests, unattend

MAX_INSTALLERS = 10
# The agent refuses a signed payload over 64 Ki characters of base64url (agent/fleetvisor_agent/verify.py):
# the arguments, with their sealed values put back, must stay well under 3/4 of that.
MAX_ARGS_BYTES = 44 * 1024
FIELDS = ("profile", "installers", "inputs", "sizing", "name", "network")
MAX_FORWARDS = 8
FORWARD_KEYS = ("host_port", "guest_port", "address")
FIRST_BOOT_MARKER = "FLEETVISOR-FIRST-BOOT"
# (kind, id) → the manifest an owner may use (built-in or their own), or None.
Finder = Callable[[str, str], Mapping[str, Any] | None]


@dataclass
class Plan:
    name: str
    args: dict[str, Any]
    vault: Vault
    generated_password: str | None = None
    # What the audit trail may hold: no input values.
    summary: dict[str, Any] = field(default_factory=dict)
    # What identifies the request for an Idempotency-Key: everything but passwords (its hash is stored).
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Checked:
    profile: Mapping[str, Any] | None = None
    values: dict[str, Any] = field(default_factory=dict)
    installers: list[tuple[Mapping[str, Any], dict[str, Any]]] = field(default_factory=list)
    sizing: dict[str, int] = field(default_factory=dict)
    name: str = ""
    network: str | dict[str, Any] = "default"
    errors: dict[str, str] = field(default_factory=dict)


def plan(body: Mapping[str, Any], find: Finder, resolve_key: inputs.KeyResolver | None) -> Plan:
    checked = _check(body, find, resolve_key)
    if checked.errors or checked.profile is None:
        raise InvalidFields("The deployment has invalid fields: " + ", ".join(sorted(checked.errors)) + ".",
                            "invalid_inputs", checked.errors)
    return _render(checked)


def _check(body: Mapping[str, Any], find: Finder, resolve_key: inputs.KeyResolver | None) -> _Checked:
    out = _Checked()
    out.errors.update({name: "is not a field of a deployment." for name in body if name not in FIELDS})
    profile_id = body.get("profile")
    out.profile = find("profile", profile_id) if isinstance(profile_id, str) and len(profile_id) <= 64 else None
    if out.profile is None:
        out.errors["profile"] = "names no profile you can deploy (GET /api/profiles lists them)."
        return out
    given = inputs.check(out.profile.get("inputs", []), body.get("inputs", {}), resolve_key)
    out.values = given.values
    out.errors.update({f"inputs.{name}".rstrip("."): why for name, why in given.errors.items()})
    _check_media(out)
    _check_installers(out, body.get("installers", []), find, resolve_key)
    _check_sizing(out, body.get("sizing", {}))
    _check_name(out, body)
    _check_network(out, body)
    return out


def _check_media(out: _Checked) -> None:
    """The ISOs a profile's inputs name: each with its checksum and pool, the installer ISO never left out (the
    driver ISO may be). Inputs' own visible_if and required usually say so first; this holds any manifest to it."""
    assert out.profile is not None
    for kind in manifests.MEDIA:
        media = out.profile.get(kind)
        if media is None or any(f"inputs.{media[role]}" in out.errors for role in manifests.ISO_ROLES):
            continue  # its inputs' own errors say what is wrong first
        named = {role: out.values.get(media[role]) for role in manifests.ISO_ROLES}
        given = bool(named["url_input"] or named["volume_input"])
        iso = "installer ISO" if kind == "install_media" else "driver ISO"
        wanted = {"sha256_input": (given, f"is required with the {iso}: its SHA-256."),
                  "pool_input": (given and not named["url_input"], f"is required with the {iso}'s volume."),
                  "url_input": (kind == "install_media" and not given, f"is required: the {iso}'s URL (or a volume).")}
        for role, (needed, why) in wanted.items():
            if needed and not named[role]:
                out.errors[f"inputs.{media[role]}"] = why


def iso_source(media: Mapping[str, Any] | None, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ISO a profile's `install_media` or `driver_media` names in checked inputs, as a job's cdrom source;
    None when its inputs are left empty."""
    if media is None:
        return None
    sha256 = str(values.get(media["sha256_input"], "")).lower()
    if values.get(media["url_input"]):
        return {"url": values[media["url_input"]], "sha256": sha256, "max_bytes": media["max_bytes"]}
    if values.get(media["volume_input"]):
        return {"pool": values[media["pool_input"]], "volume": values[media["volume_input"]], "sha256": sha256}
    return None


def _check_installers(out: _Checked, chosen: Any, find: Finder, resolve_key: inputs.KeyResolver | None) -> None:
    assert out.profile is not None
    if not isinstance(chosen, list) or len(chosen) > MAX_INSTALLERS:
        out.errors["installers"] = f"must be a list of at most {MAX_INSTALLERS} installers."
        return
    if chosen and not out.profile["first_boot"].get("installers"):
        out.errors["installers"] = "are not offered by this profile."
        return
    seen = set()
    for item in chosen:
        installer_id, values = (item, {}) if isinstance(item, str) else \
            (item.get("id"), item.get("inputs", {})) if isinstance(item, dict) else (None, {})
        installer = find("installer", installer_id) if isinstance(installer_id, str) and len(installer_id) <= 64 \
            else None
        if installer is None or installer_id in seen:
            out.errors["installers"] = "name an installer you cannot use, or one twice (GET /api/installers)."
            continue
        seen.add(installer_id)
        if out.profile["first_boot"]["kind"] not in installer["first_boot"]:
            out.errors[f"installers.{installer_id}"] = "cannot run on this profile's first boot."
            continue
        given = inputs.check(installer.get("inputs", []), values, resolve_key)
        out.errors.update({f"installers.{installer_id}.{name}".rstrip("."): why for name, why in given.errors.items()})
        out.installers.append((installer, given.values))


def _check_sizing(out: _Checked, sizing: Any) -> None:
    assert out.profile is not None
    bounds = out.profile["sizing"]
    if not isinstance(sizing, dict):
        out.errors["sizing"] = "must be an object (vcpus, memory_mib, disk_gib)."
        return
    out.errors.update({f"sizing.{name}": "is not a sizing field." for name in sizing if name not in bounds})
    for name, bound in bounds.items():
        value = sizing.get(name, bound["default"])
        if not isinstance(value, int) or isinstance(value, bool) or not bound["min"] <= value <= bound["max"]:
            out.errors[f"sizing.{name}"] = f"must be a whole number from {bound['min']} to {bound['max']}."
        else:
            out.sizing[name] = value


def _check_name(out: _Checked, body: Mapping[str, Any]) -> None:
    assert out.profile is not None
    name = body.get("name", out.values.get(out.profile["name_input"]))
    if "name" not in body and name is None:
        return  # the name input's own error says it
    if not isinstance(name, str) or not validate.LIBVIRT_NAME_RE.match(name):
        out.errors["name"] = "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
    else:
        out.name = name


def _check_network(out: _Checked, body: Mapping[str, Any]) -> None:
    assert out.profile is not None
    network = body.get("network", out.profile.get("network", "default"))
    if isinstance(network, str):
        if validate.LIBVIRT_NAME_RE.match(network):
            out.network = network
        else:
            out.errors["network"] = "must name a libvirt network of the host (letters, digits, '.', '_', '-')."
        return
    rules = network.get("forwards", []) if isinstance(network, dict) else None
    if not isinstance(rules, list) or len(rules) > MAX_FORWARDS or network.get("mode") != "user" \
            or set(network) - {"mode", "forwards"}:
        out.errors["network"] = ("must be a libvirt network's name, or {\"mode\": \"user\", \"forwards\": [...]} "
                                 f"with at most {MAX_FORWARDS} forwards.")
        return
    taken: set[int] = set()
    forwards = [_forward(rule, f"network.forwards[{index}]", taken, out.errors) for index, rule in enumerate(rules)]
    out.network = {"mode": "user", "forwards": [forward for forward in forwards if forward is not None]}


def _forward(rule: Any, where: str, taken: set[int], errors: dict[str, str]) -> dict[str, Any] | None:
    """One forward of a user-mode NIC, its refusals added to `errors` under `where`; `taken`: host ports so far."""
    if not isinstance(rule, dict) or set(rule) - set(FORWARD_KEYS):
        errors[where] = "must be {\"host_port\", \"guest_port\", \"address\"?}."
        return None
    forward = {"address": rule.get("address", "127.0.0.1"), "host_port": rule.get("host_port"),
               "guest_port": rule.get("guest_port")}
    for key in ("host_port", "guest_port"):
        if not _port(forward[key]):
            errors[f"{where}.{key}"] = "must be a port number from 1 to 65535."
    if not _ipv4(forward["address"]):
        errors[f"{where}.address"] = "must be an IPv4 address of the host, such as 127.0.0.1."
    if _port(forward["host_port"]):
        if forward["host_port"] in taken:
            errors[f"{where}.host_port"] = "is forwarded twice."
        taken.add(forward["host_port"])
    return forward


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _ipv4(value: Any) -> bool:
    """An IPv4 literal (the QEMU of Debian 12 forwards from IPv4 addresses only)."""
    try:
        return isinstance(value, str) and len(value) <= 15 and ipaddress.IPv4Address(value) is not None
    except ValueError:
        return False


def _render(checked: _Checked) -> Plan:
    profile = checked.profile
    assert profile is not None
    vault = Vault()
    plan = Plan(checked.name, {}, vault, summary={
        "profile": profile["id"], "name": checked.name, "installers": [i["id"] for i, _ in checked.installers],
        "sizing": checked.sizing, "network": checked.network})
    plan.fingerprint = {**plan.summary, "inputs": _without_passwords(profile, checked.values),
                        "installer_inputs": [_without_passwords(i, v) for i, v in checked.installers]}
    drivers = iso_source(profile.get("driver_media"), checked.values)
    if profile["first_boot"]["kind"] == "cloud-init":
        cdrom = _cloud_init_seed(profile, checked, vault)
    else:
        driver_paths = profile["driver_media"].get("driver_paths", []) if drivers else []
        cdrom, plan.generated_password = _unattend_media(checked, vault, driver_paths)
    # The installer ISO first (it boots), then the driver ISO, then the generated medium.
    isos = [iso_source(profile.get("install_media"), checked.values), drivers]
    plan.args = _args(profile, checked, [{"source": iso} for iso in isos if iso] + [cdrom], drivers is not None)
    size = len(canonical(plan.args)) + sum(len(value) for value in vault.values.values())
    if size > MAX_ARGS_BYTES:
        where = "installers" if checked.installers else "inputs"
        raise InvalidFields("The deployment is too large for a signed job.", "invalid_inputs", {
            where: f"make a first-boot configuration of {size} bytes; at most {MAX_ARGS_BYTES} fit in a signed job."})
    return plan


def _without_passwords(manifest: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    passwords = {spec["name"] for spec in manifest.get("inputs", []) if spec["type"] == "password"}
    return {name: value for name, value in values.items() if name not in passwords}


def _cloud_init_seed(profile: Mapping[str, Any], checked: _Checked, vault: Vault) -> dict[str, Any]:
    packages = list(profile["first_boot"].get("packages", [])) + checked.values.get("packages", "").split()
    files = {"user-data": cloudinit.user_data(checked.values, checked.installers, packages, vault.seal),
             "meta-data": cloudinit.meta_data(checked.values[profile["name_input"]])}
    return {"generated": {"label": "cidata", "files": files}}


def _unattend_media(checked: _Checked, vault: Vault, driver_paths: list[str]) -> tuple[dict[str, Any], str | None]:
    password = checked.values.get("admin_password")
    generated = None
    if not password:
        password = generated = unattend.generate_password()
    text = unattend.render(checked.values, vault.seal(unattend.xml_escaped(password)), driver_paths)
    return {"generated": {"label": "UNATTEND", "files": {"Autounattend.xml": text}}}, generated


def _args(profile: Mapping[str, Any], checked: _Checked, cdroms: list[dict[str, Any]],
          with_drivers: bool) -> dict[str, Any]:
    machine = {**profile["machine"], **(profile["driver_media"].get("with_drivers", {}) if with_drivers else {})}
    disk: dict[str, Any] = {"size_gib": checked.sizing["disk_gib"], "mode": profile["disk_mode"]}
    if profile["disk_mode"] != "blank":
        image = profile["image"]
        disk["source"] = {"url": image["url"], "sha256": image["sha256"], "format": image["format"],
                          "max_bytes": image["max_bytes"]}
    return {"name": checked.name, "vcpus": checked.sizing["vcpus"], "memory_mib": checked.sizing["memory_mib"],
            **{key: machine[key] for key in ("firmware", "secure_boot", "tpm", "machine", "disk_bus", "nic_model")},
            "network": checked.network, "disk": disk, "cdroms": cdroms,
            # A blank disk boots nothing yet, so its installer ISO boots; once installed, the disk does.
            "boot": ["hd", "cdrom"],
            "first_boot": {"marker": FIRST_BOOT_MARKER, "timeout_seconds": profile["first_boot"]["timeout_seconds"]}}
