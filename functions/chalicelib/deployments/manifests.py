"""Manifests: YAML documents, checked against the manifest schema (manifest-schema.json) and then
against what a schema cannot say, and served with the JSON Schema of their inputs.

YAML is read with a safe loader that also refuses aliases (a few lines of anchors can stand for
gigabytes once expanded into JSON) and keeps dates as text; a manifest is at most MAX_BYTES. The
checks after the schema: input names unique, `visible_if` naming an earlier input with a value of
the right type, patterns that compile, defaults that pass their own input, bounds in order, the
inputs a profile names (`name_input`, `install_media`, `driver_media`) present and of a fitting type,
no input shared by the two media, `driver_paths` only where a Windows answer file reads them,
installer environment names unique. Every refusal names where (`inputs[2].default`) and why.

Built-in manifests are the files in builtin/ (shipped with the control plane, read once per warm
Lambda); operators' own are stored per owner (models.Manifest) and may not reuse a built-in's id.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ..errors import InvalidFields
from . import inputs

HERE = Path(__file__).parent
BUILTIN = HERE / "builtin"
MAX_BYTES = 64 * 1024
KINDS = ("profile", "installer")
# A profile's ISOs named by inputs (their values are read by plan.iso_source), and those inputs' roles.
MEDIA = ("install_media", "driver_media")
ISO_ROLES = ("url_input", "pool_input", "volume_input", "sha256_input")
# The installer exit-code contract, in words, for pages that explain a deployment's result.
EXIT_CODES = {
    "0": {"meaning": "ok", "explanation": "Installed and configured."},
    "1": {"meaning": "validation_error", "explanation": "Its inputs were refused by the script; not retried."},
    "2": {"meaning": "installation_error", "explanation": "Installing failed (often the network or a package "
                                                         "mirror); retried with backoff before being reported."},
    "3": {"meaning": "configuration_error", "explanation": "Installed, but configuring it failed: an operator "
                                                          "needs to look (the last lines of its output say why)."},
    "124": {"meaning": "timeout", "explanation": "It ran longer than its timeout_seconds and was stopped."},
}


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases and without implicit dates (JSON has neither)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in a manifest")
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


@functools.lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((HERE / "manifest-schema.json").read_text())
    return schema


def refuse(fields: dict[str, str]) -> InvalidFields:
    return InvalidFields("The manifest is not valid: " + "; ".join(f"{k or 'manifest'} {v}" for k, v in
                                                                     list(fields.items())[:5]),
                         "invalid_manifest", fields)


def parse(text: str | bytes) -> dict[str, Any]:
    """A manifest from its YAML (or JSON) text, checked; InvalidFields names what is wrong."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_BYTES:
        raise refuse({"": f"is larger than {MAX_BYTES} bytes."})
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except (UnicodeError, yaml.YAMLError, RecursionError) as exc:
        raise refuse({"": f"is not valid YAML: {str(exc)[:300]}"}) from exc
    return check(doc)


def check(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise refuse({"": "must be a mapping (kind, id, version, title, ...)."})
    errors: dict[str, str] = {}
    for error in Draft202012Validator(manifest_schema()).iter_errors(doc):
        errors.setdefault(_where(error), _why(error))
    if not errors:
        errors = _semantics(doc)
    if errors:
        raise refuse(errors)
    return doc


def _where(error: ValidationError) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path).lstrip(".")


def _why(error: ValidationError) -> str:
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return f"has a field the manifest schema does not know: {error.message[:200]}"
    if error.validator == "required":
        return error.message[:200]
    if error.validator in ("if", "then", "else", "not", "oneOf", "allOf"):
        return f"does not fit its kind or type ({error.message[:200]})"
    return error.message[:300]


def _semantics(doc: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    specs = doc.get("inputs", [])
    seen: dict[str, Mapping[str, Any]] = {}
    for index, spec in enumerate(specs):
        where = f"inputs[{index}]"
        if spec["name"] in seen:
            errors[f"{where}.name"] = f"repeats the input name '{spec['name']}'."
        errors.update(_input_semantics(where, spec, seen))
        seen[spec["name"]] = spec
    if not errors:
        defaults = inputs.check(specs, {})
        errors.update({f"inputs.{name}.default": why for name, why in defaults.errors.items()
                       if why != "is required."})
    if doc["kind"] == "profile":
        errors.update(_profile_semantics(doc, seen))
    else:
        envs = [env_name(spec) for spec in specs]
        if len(set(envs)) != len(envs):
            errors["inputs"] = "gives two inputs the same environment variable name."
    return errors


def _input_semantics(where: str, spec: Mapping[str, Any], earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except re.error as exc:
            errors[f"{where}.pattern"] = f"is not a regular expression: {exc}"
    rule = spec.get("visible_if")
    if rule is not None and rule["input"] not in earlier:
        errors[f"{where}.visible_if"] = f"names '{rule['input']}', which is not an earlier input."
    low, high = spec.get("min"), spec.get("max")
    if spec["type"] == "size" and low is not None and high is not None:
        low, high = inputs.size_mib(low), inputs.size_mib(high)
    if low is not None and high is not None and low > high:
        errors[f"{where}.min"] = "is greater than max."
    if spec.get("min_length", 0) > spec.get("max_length", inputs.MAX_TEXT):
        errors[f"{where}.min_length"] = "is greater than max_length."
    return errors


def _profile_semantics(doc: Mapping[str, Any], specs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    name_spec = specs.get(doc["name_input"])
    if name_spec is None or name_spec["type"] not in ("hostname", "string"):
        errors["name_input"] = "must name an input of type hostname or string."
    for media in MEDIA:
        for role in ISO_ROLES if media in doc else ():
            if doc[media][role] not in specs or specs[doc[media][role]]["type"] not in ("string", "select"):
                errors[f"{media}.{role}"] = "must name an input of type string or select."
    if "install_media" in doc and "driver_media" in doc:
        shared = {doc["install_media"][role] for role in ISO_ROLES} & {doc["driver_media"][role] for role in ISO_ROLES}
        if shared:
            errors["driver_media"] = f"names inputs of install_media too: {', '.join(sorted(shared))}."
    if "driver_paths" in doc.get("driver_media", {}) and doc["first_boot"]["kind"] != "windows-unattend":
        errors["driver_media.driver_paths"] = "are read by a Windows answer file only (first_boot windows-unattend)."
    for name, bounds in doc["sizing"].items():
        if not bounds["min"] <= bounds["default"] <= bounds["max"]:
            errors[f"sizing.{name}"] = "must have min <= default <= max."
    return errors


def env_name(spec: Mapping[str, Any]) -> str:
    """The environment variable an installer's input reaches its script in."""
    return str(spec.get("env") or spec["name"].upper())


@functools.lru_cache(maxsize=1)
def builtins() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, id) → built-in manifest. A built-in that fails its checks fails loudly, at first use."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(BUILTIN.glob("*.yaml")):
        doc = parse(path.read_bytes())
        found[(doc["kind"], doc["id"])] = doc
    return found


def sizing_schema(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a deployment's `sizing` for a profile (its bounds and defaults)."""
    titles = {"vcpus": "Virtual CPUs", "memory_mib": "Memory (MiB)", "disk_gib": "Disk (GiB)"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "additionalProperties": False, "x-order": list(titles),
            "properties": {name: {"type": "integer", "title": titles[name], "x-kind": "integer",
                                  "minimum": b["min"], "maximum": b["max"], "default": b["default"]}
                           for name, b in profile["sizing"].items()}}


def view(doc: Mapping[str, Any], *, builtin: bool) -> dict[str, Any]:
    """A manifest as the API serves it: the document, where it comes from, and its forms' schemas."""
    out = {"id": doc["id"], "kind": doc["kind"], "version": doc["version"], "title": doc["title"],
           "description": doc.get("description", ""), "builtin": builtin, "manifest": dict(doc),
           "inputs_schema": inputs.schema_for(doc.get("inputs", []))}
    if doc["kind"] == "profile":
        out["sizing_schema"] = sizing_schema(doc)
    return out
