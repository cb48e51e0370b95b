"""What the CLI prints: tables and detail lists for people, JSON (`--json`) for scripts.

Tables have fixed columns and cut long cells with "…", so a 200-character VM
name cannot push the next column off the screen. Every cell goes through
`text`, which also replaces control characters: names come from libvirt and
may hold anything, and an escape sequence must not reach the terminal.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]
    width: int


@dataclass(frozen=True)
class Shown:
    """A command's answer: `data` for --json, `text` for people."""

    data: Any
    text: str


def text(value: Any) -> str:
    """One value as people read it: "-" for nothing, k=v for labels, commas between list items."""
    if value is None or value in ("", [], {}):
        shown = "-"
    elif isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, dict):
        shown = ",".join(f"{key}={item}" for key, item in sorted(value.items()))
    elif isinstance(value, list):
        shown = ",".join(text(item) for item in value)
    else:
        shown = str(value)
    return CONTROL.sub("?", shown)


def block(value: str) -> str:
    """Text of several lines (a manifest as uploaded): its lines and tabs kept, other control characters "?"."""
    return CONTROL_BUT_LINES.sub("?", value.replace("\r\n", "\n"))


def cell(value: Any, width: int) -> str:
    shown = text(value)
    return shown if len(shown) <= width else shown[:width - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    lines = [[column.header for column in columns]]
    lines += [[cell(column.value(row), column.width) for column in columns] for row in rows]
    widths = [column.width for column in columns]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def details(pairs: Sequence[tuple[str, Any]]) -> str:
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {text(value)}" for name, value in pairs)


def render(shown: Shown, as_json: bool) -> str:
    return json.dumps(shown.data, indent=2, sort_keys=True) if as_json else shown.text


def memory(kib: Any) -> str:
    if not isinstance(kib, int) or kib <= 0:
        return "-"
    mib = kib / 1024
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def moment(ms: Any) -> str:
    """A time in milliseconds as local date and time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if isinstance(ms, int) and ms else "-"


def ago(ms: Any) -> str:
    if not isinstance(ms, int) or not ms:
        return "never"
    seconds = max(0, int(time.time() - ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
