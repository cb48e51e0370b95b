"""Watching a new VM's first boot on its serial console for the lines its first-boot runner prints.

The control plane's rendered first-boot config makes the guest print, on
ttyS0 (docs: the deploy contract):

    FLEETVISOR-FIRST-BOOT installer=<id> line=<base64>   (an installer's last output lines, at most 20)
    FLEETVISOR-FIRST-BOOT installer=<id> exit=<code>     (one per installer, in order)
    FLEETVISOR-FIRST-BOOT done                           (last)

The marker may come after a prefix on its line (a timestamp, `cloud-init[812]:`)
but its fields must end the line. Exit codes: 0 ok, 1 validation error, 2
installation error, 3 configuration error, 124 timeout; any other is
"unknown". Watching ends at `done`, at the timeout, when the job is
cancelled, or when the console ends (the VM stopped): the status is `done`
or `timed_out` (everything but `done`).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

MEANINGS = {0: "ok", 1: "validation_error", 2: "installation_error", 3: "configuration_error", 124: "timeout"}
MAX_LAST_LINES = 20
MAX_LINE_CHARS = 500
MAX_INSTALLERS = 64
MAX_PENDING = 64 * 1024  # an unfinished line longer than this is dropped
READ_SLICE = 0.5


class Console(Protocol):
    def read(self, timeout: float) -> bytes | None: ...


@dataclass
class Installer:
    id: str
    exit: int | None = None
    last_lines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        meaning = None if self.exit is None else MEANINGS.get(self.exit, "unknown")
        return {"id": self.id, "exit": self.exit, "meaning": meaning, "last_lines": list(self.last_lines)}


@dataclass
class FirstBoot:
    status: str  # "done", "timed_out" or "not_watched"
    installers: list[Installer] = field(default_factory=list)


class Parser:
    """Feeds console bytes in, collects the marker lines; `done` once the runner said so."""

    def __init__(self, marker: str) -> None:
        fields = r"installer=(?P<id>[A-Za-z0-9._-]{1,64}) (?:exit=(?P<exit>\d{1,3})|line=(?P<line>[A-Za-z0-9+/=]*))"
        self._line = re.compile(rf"{re.escape(marker)} (?:{fields}|(?P<done>done))\s*$")
        self._pending = b""
        self._installers: dict[str, Installer] = {}
        self.done = False

    @property
    def installers(self) -> list[Installer]:
        """In the order their exit lines came (installers with output but no exit yet at the end)."""
        finished = [item for item in self._installers.values() if item.exit is not None]
        return finished + [item for item in self._installers.values() if item.exit is None]

    def feed(self, data: bytes) -> None:
        *lines, self._pending = (self._pending + data).split(b"\n")
        if len(self._pending) > MAX_PENDING:
            self._pending = b""
        for raw in lines:
            self._take(raw.decode("utf-8", "replace").rstrip("\r"))

    def _take(self, line: str) -> None:
        found = self._line.search(line)
        if found is None or self.done:
            return
        if found["done"]:
            self.done = True
            return
        installer = self._installers.get(found["id"])
        if installer is None:
            if len(self._installers) >= MAX_INSTALLERS:
                return
            installer = self._installers[found["id"]] = Installer(found["id"])
        if found["exit"] is not None:
            self._installers.pop(installer.id)
            installer.exit = int(found["exit"])
            self._installers[installer.id] = installer  # ordered by when it finished
        else:
            try:
                text = base64.b64decode(found["line"], validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                text = "(undecodable line)"
            installer.last_lines = [*installer.last_lines, text.rstrip("\r\n")[:MAX_LINE_CHARS]][-MAX_LAST_LINES:]


def watch(console: Console, marker: str, timeout: float, cancelled: threading.Event,
          on_installer: Callable[[Installer], None] | None = None) -> FirstBoot:
    """Read the console until the runner says `done`, or `timeout` seconds pass, or the job is cancelled."""
    parser = Parser(marker)
    deadline = time.monotonic() + timeout
    reported = 0
    while not parser.done and not cancelled.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        data = console.read(min(READ_SLICE, remaining))
        if data is None:  # the VM stopped: nothing more will come
            break
        parser.feed(data)
        finished = [item for item in parser.installers if item.exit is not None]
        if on_installer is not None:
            for installer in finished[reported:]:
                on_installer(installer)
        reported = len(finished)
    return FirstBoot("done" if parser.done else "timed_out", parser.installers)
