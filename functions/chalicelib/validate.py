"""Checks for values that come from outside, each raising Invalid with the field's name.

A pattern a field must match is made with `form(regex, words)`: the words say what is allowed, and a
refusal quotes them ("'name' must be 1 to 63 letters, …"), so the person who typed it knows what to type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import Invalid

_FORMS: dict[re.Pattern[str], str] = {}


def form(regex: str, words: str) -> re.Pattern[str]:
    """A compiled pattern, with the words a refusal uses to say what it allows ("1 to 63 letters, …")."""
    pattern = re.compile(regex)
    _FORMS[pattern] = words
    return pattern


UUID_RE = form(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z",
               "a lowercase UUID (8-4-4-4-12 hex digits)")
# Host names: what DNS labels and libvirt accept, no path or markup characters.
# Patterns end in \Z, not $: "$" would let a trailing newline through.
NAME_RE = form(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z",
               "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (no spaces)")
# Names of libvirt objects an operator addresses (a VM in a path, a snapshot):
# virt-install's historical rule (letters, digits, `._-`), a letter or digit
# first, 64 at most. libvirt itself refuses only '/' and newlines; vms/logic.py
# has the reasoning.
LIBVIRT_NAME_RE = form(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z",
                       "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no spaces)")


def text(body: Mapping[str, Any], name: str, *, max_len: int = 200,
         pattern: re.Pattern[str] | None = None, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value and required:
        raise Invalid(f"'{name}' must be a non-empty string.")
    if len(value) > max_len:
        raise Invalid(f"'{name}' must be at most {max_len} characters.")
    if pattern is not None and value and not pattern.match(value):
        raise Invalid(f"'{name}' must be {_FORMS.get(pattern, 'printable text')}.")
    return value


def integer(body: Mapping[str, Any], name: str, *, low: int, high: int) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(f"'{name}' must be an integer from {low} to {high}.")
    return value


def boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise Invalid(f"'{name}' must be true or false.")
    return value


def mapping(body: Mapping[str, Any], name: str, *, required: bool = True) -> dict[str, Any]:
    value = body.get(name, None if required else {})
    if not isinstance(value, dict):
        raise Invalid(f"'{name}' must be an object.")
    return value


def array(body: Mapping[str, Any], name: str, *, max_items: int, required: bool = True) -> list[Any]:
    value = body.get(name, None if required else [])
    if not isinstance(value, list):
        raise Invalid(f"'{name}' must be an array.")
    if len(value) > max_items:
        raise Invalid(f"'{name}' may hold at most {max_items} items.")
    return value


def clamp(raw: str | None, *, default: int, low: int, high: int, name: str) -> int:
    """A numeric query parameter, clamped to its range (bad numbers are refused)."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Invalid(f"'{name}' must be an integer.") from exc
    return max(low, min(high, value))


# Free-text labels (key names, notes): printable, no control characters.
LABEL_RE = form(r"^[^\x00-\x1f\x7f]*\Z", "printable text on one line (no tabs, line breaks or control characters)")


# Labels on hosts and VMs: a few lowercase keys, each with a short printable value.
LABEL_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")
MAX_LABELS = 20
# The body that sets them: 20 labels of a 63-character key and 200 characters of up to 3 bytes each fit, so
# the fields refuse what is too long, not the body's size.
LABELS_BODY = 16 * 1024


def labels(body: Mapping[str, Any], what: str) -> dict[str, str]:
    """`body["labels"]`, the whole new set of labels of a host or VM (`what` names it in the message)."""
    found = mapping(body, "labels")
    if len(found) > MAX_LABELS:
        raise Invalid(f"A {what} may carry at most {MAX_LABELS} labels.")
    for key, value in found.items():
        if not LABEL_KEY_RE.match(key) or not isinstance(value, str) or len(value) > 200 \
                or not LABEL_RE.match(value):
            raise Invalid(f"Label '{key[:64]}' is not allowed: a key is 1 to 63 characters of a-z, 0-9, '_', '.' "
                          "and '-' starting with a letter or digit, and its value at most 200 printable characters "
                          "on one line.")
    return found
