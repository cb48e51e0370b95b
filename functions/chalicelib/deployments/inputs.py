"""Typed inputs of a manifest: the JSON Schema a form is rendered from, and the server's check of values.

Each input of a manifest (already valid against the manifest schema, manifests.py) becomes one
property of a JSON Schema (draft 2020-12) object. What JSON Schema cannot say travels in our own
keywords, which a generic form renderer reads and a plain validator ignores:

  x-kind         the input's type: string, integer, boolean, password, select, email, port, ssh-key,
                 hostname, size (the renderer picks its widget from this)
  x-visible-if   {"input": other, "equals": value} or {"input": other, "in": [values]}: show the field
                 only then; a required field hidden so is not required (an if/then in `allOf` says so
                 in plain JSON Schema too), and a hidden field's value is dropped by the server
  x-options      for select: [{"value", "label"}] (the values are the `enum`)
  x-min-mib, x-max-mib   for size: bounds in MiB of a value written "512MiB" or "40GiB"
  x-multiple     for ssh-key: the value is a list of keys
  x-order        on the object: the order to show the properties in
  x-help         the input's help text (also `description`)
Password properties carry `writeOnly: true` and `format: password`: shown masked, never echoed.

The server's check (`check`) fills defaults, drops hidden inputs, validates the object with the very
same schema (jsonschema), then does what only the server can: parse ssh keys (sshkeys.py, or resolve
a stored key's id), convert sizes to MiB and hold them to their bounds. Errors come back per field
(`{"name": "why"}`), every failing field at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from . import sshkeys

KINDS = ("string", "integer", "boolean", "password", "select", "email", "port", "ssh-key", "hostname", "size")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # one DNS label (RFC 1123)
HOSTNAME_RE = rf"^(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*$"
EMAIL_RE = rf"^[^@\s\x00-\x1f]{{1,64}}@{LABEL}(?:\.{LABEL})+$"
SIZE_RE = r"^[1-9][0-9]{0,7}(MiB|GiB)$"
PRINTABLE_RE = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
# Passwords: no control characters at all (not even a newline or tab): they end up in files a guest parses.
PASSWORD_RE = r"^[^\x00-\x1f\x7f]*$"
MAX_TEXT = 4096
MAX_PASSWORD = 128
MAX_KEYS = 20
UNITS = {"MiB": 1, "GiB": 1024}
# A stored key's id (deployments/ssh_keys.py), usable wherever an ssh-key input takes a key.
STORED_KEY_RE = re.compile(r"sshk_[0-9a-f]{32}")

NOUNS = {"integer": "a whole number", "boolean": "true or false", "array": "a list"}
KeyResolver = Callable[[str], str | None]


def size_mib(text: str) -> int:
    match = re.fullmatch(SIZE_RE, text)
    if match is None:
        raise ValueError(text)
    return int(text[:-3]) * UNITS[match.group(1)]


def _string_like(spec: Mapping[str, Any], default_max: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": spec.get("max_length", default_max)}
    if "min_length" in spec:
        schema["minLength"] = spec["min_length"]
    return schema


def _fragment(spec: Mapping[str, Any]) -> dict[str, Any]:
    kind = spec["type"]
    if kind == "string":
        schema = _string_like(spec, MAX_TEXT)
        schema["pattern"] = spec.get("pattern", PRINTABLE_RE)
    elif kind == "password":
        schema = {**_string_like(spec, MAX_PASSWORD), "pattern": PASSWORD_RE, "format": "password",
                  "writeOnly": True}
    elif kind in ("integer", "port"):
        low, high = (1, 65535) if kind == "port" else (-2**53 + 1, 2**53 - 1)
        schema = {"type": "integer", "minimum": spec.get("min", low), "maximum": spec.get("max", high)}
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "select":
        values = [option["value"] for option in spec["options"]]
        schema = {"type": "string", "enum": values, "x-options": [dict(option) for option in spec["options"]]}
    elif kind == "email":
        schema = {"type": "string", "format": "email", "maxLength": 254, "pattern": EMAIL_RE}
    elif kind == "hostname":
        schema = {"type": "string", "format": "hostname", "maxLength": spec.get("max_length", 253),
                  "pattern": spec.get("pattern", HOSTNAME_RE)}
    elif kind == "size":
        schema = {"type": "string", "pattern": SIZE_RE, "x-min-mib": size_mib(spec.get("min", "1MiB")),
                  "x-max-mib": size_mib(spec.get("max", "16384GiB"))}
    else:  # ssh-key
        one = {"type": "string", "minLength": 1, "maxLength": sshkeys.MAX_LINE}
        schema = {"type": "array", "items": one, "maxItems": MAX_KEYS, "x-multiple": True} \
            if spec.get("multiple") else one
    return schema


def property_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    schema = {**_fragment(spec), "x-kind": spec["type"], "title": spec.get("label", spec["name"])}
    if spec.get("help"):
        schema["description"] = schema["x-help"] = spec["help"]
    if "default" in spec:
        schema["default"] = spec["default"]
    if "visible_if" in spec:
        schema["x-visible-if"] = dict(spec["visible_if"])
    return schema


def _condition(visible_if: Mapping[str, Any]) -> dict[str, Any]:
    value = {"const": visible_if["equals"]} if "equals" in visible_if else {"enum": list(visible_if["in"])}
    return {"properties": {visible_if["input"]: value}, "required": [visible_if["input"]]}


def schema_for(specs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON Schema of a manifest's inputs (an object), from which a form is rendered alone."""
    always = [s["name"] for s in specs if s.get("required") and "visible_if" not in s]
    conditional = [{"if": _condition(s["visible_if"]), "then": {"required": [s["name"]]}}
                   for s in specs if s.get("required") and "visible_if" in s]
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {s["name"]: property_schema(s) for s in specs}, "required": always,
        "additionalProperties": False, "x-order": [s["name"] for s in specs]}
    if conditional:
        schema["allOf"] = conditional
    return schema


@dataclass
class Checked:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def visible(spec: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    rule = spec.get("visible_if")
    if rule is None:
        return True
    other = values.get(rule["input"])
    return other == rule["equals"] if "equals" in rule else other in rule["in"]


def check(specs: list[Mapping[str, Any]], given: Any, resolve_key: KeyResolver | None = None) -> Checked:
    """The inputs' clean values (defaults filled, hidden ones dropped, sizes in MiB, ssh keys as
    authorized_keys lines) and the errors, keyed by input name."""
    if not isinstance(given, dict):
        return Checked(errors={"": "must be an object of input values."})
    by_name = {s["name"]: s for s in specs}
    values = {s["name"]: s["default"] for s in specs if "default" in s}
    # An optional input left empty in a form is not given (its default applies, or nothing).
    values.update({name: value for name, value in given.items()
                   if not (value == "" and name in by_name and not by_name[name].get("required"))})
    # In manifest order (visible_if names an earlier input), so an input hidden by a hidden one is hidden too.
    shown: dict[str, Any] = {}
    for spec in specs:
        if spec["name"] in values and visible(spec, shown):
            shown[spec["name"]] = values[spec["name"]]
    values = {**{name: value for name, value in values.items() if name not in by_name}, **shown}
    out = Checked()
    validator = Draft202012Validator(schema_for(specs))
    for error in validator.iter_errors(values):
        for name, why in _explain(error, by_name, values):
            out.errors.setdefault(name, why)
    for name, value in values.items():
        if name in by_name and name not in out.errors:
            try:
                out.values[name] = _convert(by_name[name], value, resolve_key)
            except ValueError as exc:
                out.errors[name] = str(exc)
    return out


def _convert(spec: Mapping[str, Any], value: Any, resolve_key: KeyResolver | None) -> Any:
    kind = spec["type"]
    if kind == "size":
        mib = size_mib(value)
        low, high = size_mib(spec.get("min", "1MiB")), size_mib(spec.get("max", "16384GiB"))
        if not low <= mib <= high:
            raise ValueError(f"must be from {spec.get('min', '1MiB')} to {spec.get('max', '16384GiB')}.")
        return mib
    if kind == "ssh-key":
        keys = [_key(item, resolve_key) for item in (value if spec.get("multiple") else [value])]
        return keys if spec.get("multiple") else keys[0]
    return value


def _key(text: str, resolve_key: KeyResolver | None) -> str:
    if STORED_KEY_RE.fullmatch(text.strip()):
        stored = resolve_key(text.strip()) if resolve_key is not None else None
        if stored is None:
            raise ValueError(f"names a stored key ({text.strip()}) that is not in your account.")
        return stored
    try:
        return sshkeys.parse(text).line
    except sshkeys.BadKey as exc:
        raise ValueError(f"is not an accepted OpenSSH public key: it {exc}") from exc


def _explain(error: ValidationError, by_name: Mapping[str, Mapping[str, Any]],
             values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(input name, why) for one schema error, in the operator's words."""
    if error.validator == "required":
        return [(name, "is required.") for name in error.validator_value if name not in values]
    if error.validator == "additionalProperties":
        return [(name, "is not an input of this manifest.") for name in values if name not in by_name]
    if not error.absolute_path:
        return [("", error.message[:200])]
    name = str(error.absolute_path[0])
    return [(name, _why(error, by_name.get(name, {})))]


def _why(error: ValidationError, spec: Mapping[str, Any]) -> str:
    bound = error.validator_value
    kind = spec.get("type", "")
    simple = {"type": f"must be {NOUNS.get(str(bound), 'text')}.", "maxItems": f"may list at most {bound} keys.",
              "minLength": f"must be at least {bound} characters.", "maxLength": f"must be at most {bound} characters."}
    if error.validator in simple:
        return simple[str(error.validator)]
    if error.validator in ("minimum", "maximum"):
        return f"must be from {error.schema['minimum']} to {error.schema['maximum']}."
    if error.validator == "enum":
        return "must be one of: " + ", ".join(str(v) for v in bound) + "."
    if error.validator == "pattern" and "pattern_help" in spec:
        return f"must be {spec['pattern_help']}"
    if error.validator == "pattern":
        return {"email": "must be an email address.", "size": "must be a size such as 512MiB or 40GiB.",
                "hostname": "must be a host name: letters, digits and '-' in dot-separated labels of at "
                            "most 63 characters.",
                "password": "must not hold control characters."}.get(kind, f"must match the pattern {bound}.")
    return error.message[:200]
