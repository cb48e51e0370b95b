"""cloud-init first-boot configuration: the NoCloud `user-data` (cloud-config) and `meta-data`.

The cloud-config creates the first user (sudo, the operator's SSH keys, an optional password as a
SHA-512 crypt hash; SSH password logins stay off), sets host name and time zone, installs
packages, and writes the first-boot runner (first-boot.sh, run once by `runcmd`) with each chosen
installer's script, its inputs as an environment file (0600) and its timeout and retries. The
runner reports each installer's exit code, then `done`, on the serial console (the contract's
FLEETVISOR-FIRST-BOOT lines). An installer's password input reaches its environment file as a
sealed placeholder (sealing.py): in clear only in the signed job.

Every rendered cloud-config is validated against cloud-init's published schema
(schemas/cloud-config-v1.json, vendored with its licence) before a job is made.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml
from jsonschema import Draft4Validator

from . import manifests, shacrypt

HERE = manifests.HERE
RUNNER = "/usr/local/lib/fleetvisor/first-boot"
# Seals a secret for the job record: the clear value → the placeholder that stands in for it.
Sealer = Callable[[str], str]


class RenderError(ValueError):
    """What we rendered does not pass cloud-init's schema (a defect of ours or of a manifest)."""


@functools.lru_cache(maxsize=1)
def _validator() -> Draft4Validator:
    return Draft4Validator(json.loads((HERE / "schemas" / "cloud-config-v1.json").read_text()))


def check(config: Mapping[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise RenderError(f"cloud-config fails cloud-init's schema at '{where}': {errors[0].message[:300]}")


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def env_value(spec: Mapping[str, Any], value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)


def env_file(installer: Mapping[str, Any], values: Mapping[str, Any], seal: Sealer) -> str:
    lines = []
    for spec in installer.get("inputs", []):
        if spec["name"] not in values:
            continue
        quoted = shell_quote(env_value(spec, values[spec["name"]]))
        lines.append(f"{manifests.env_name(spec)}={seal(quoted) if spec['type'] == 'password' else quoted}")
    return "\n".join(lines) + "\n"


def user_data(profile_values: Mapping[str, Any], installers: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
              packages: Sequence[str], seal: Sealer) -> str:
    """The `#cloud-config` document for an Ubuntu-like profile's checked inputs and chosen installers."""
    user: dict[str, Any] = {"name": profile_values["username"], "groups": ["sudo"], "shell": "/bin/bash",
                            "sudo": "ALL=(ALL) NOPASSWD:ALL", "ssh_authorized_keys": list(profile_values["ssh_keys"]),
                            "lock_passwd": "password" not in profile_values}
    if "password" in profile_values:
        user["hashed_passwd"] = shacrypt.sha512_crypt(profile_values["password"])
    config: dict[str, Any] = {
        "hostname": profile_values["hostname"], "preserve_hostname": False,
        "timezone": profile_values.get("timezone", "Etc/UTC"), "users": [user], "ssh_pwauth": False,
        "disable_root": True, "write_files": _runner_files(installers, seal), "runcmd": [[RUNNER]]}
    if packages:
        config.update(package_update=True, packages=list(packages))
    check(config)
    return "#cloud-config\n" + yaml.dump(config, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)


def _runner_files(installers: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], seal: Sealer) -> list[Any]:
    files: list[dict[str, Any]] = [{"path": RUNNER, "permissions": "0700", "owner": "root:root",
                                    "content": (HERE / "first-boot.sh").read_text()}]
    listing = []
    for index, (installer, values) in enumerate(installers, start=1):
        step = f"{index:02d}-{installer['id']}"
        listing.append(f"{step} {installer['id']} {installer['timeout_seconds']} {installer.get('retries', 0)}")
        files += [{"path": f"/usr/local/lib/fleetvisor/installers/{step}.sh", "permissions": "0700",
                   "owner": "root:root", "content": installer["script"]},
                  {"path": f"/etc/fleetvisor/installers/{step}.env", "permissions": "0600", "owner": "root:root",
                   "content": env_file(installer, values, seal)}]
    files.append({"path": "/etc/fleetvisor/installers.list", "permissions": "0600", "owner": "root:root",
                  "content": "".join(line + "\n" for line in listing)})
    return files


class _Dumper(yaml.SafeDumper):
    """Multi-line text (scripts, environment files) as literal blocks, so the seed reads like a file."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(c in value for c in "\t\r") and value == value.rstrip(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def meta_data(hostname: str, instance_id: str | None = None) -> str:
    """NoCloud meta-data: a fresh instance id makes cloud-init treat the VM as new."""
    doc = {"instance-id": instance_id or f"iid-fv-{uuid.uuid4().hex}", "local-hostname": hostname}
    return yaml.safe_dump(doc, sort_keys=False)
