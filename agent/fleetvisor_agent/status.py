"""What the running agent last saw of its hypervisor, kept in the state dir as `status.json`.

The install script's last step reads it (`fleetvisor-agent status --pid
MAINPID --wait 60`): only the service itself, under its own user and
sandbox, can say whether it reaches libvirt. A check run by root proves
nothing about that (polkit lets root through), which is how an agent that
could manage no VM once looked installed and online (issue 19). Each host
report rewrites the file: `pid` tells the reader which process wrote it, so a
status left by an earlier process is never taken for the new one's.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .hypervisor.errors import HypervisorError
from .state import write_atomically

STATUS_FILE = "status.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HypervisorStatus:
    pid: int
    libvirt_uri: str
    available: bool
    error: str  # libvirt's own words when unavailable, else ""
    at: float


def record(state_dir: Path, libvirt_uri: str, error: HypervisorError | None) -> None:
    """Write this process's latest view: reachable (error None) or not, and why."""
    document = {"pid": os.getpid(), "libvirt_uri": libvirt_uri, "hypervisor_available": error is None,
                "hypervisor_error": "" if error is None else error.message, "at": round(time.time(), 3)}
    try:
        write_atomically(state_dir / STATUS_FILE, json.dumps(document).encode() + b"\n")
    except OSError as exc:  # a full disk must not stop the heartbeat; the control plane still hears it
        log.warning("status not written path=%s error=%s", state_dir / STATUS_FILE, exc)


def read(state_dir: Path) -> HypervisorStatus | None:
    try:
        document = json.loads((state_dir / STATUS_FILE).read_text())
        return HypervisorStatus(int(document["pid"]), str(document["libvirt_uri"]),
                                bool(document["hypervisor_available"]), str(document["hypervisor_error"]),
                                float(document["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wait_for(state_dir: Path, pid: int | None, seconds: float) -> HypervisorStatus | None:
    """The status written by process `pid` (any process if None), waiting up to `seconds` for it."""
    deadline = time.monotonic() + seconds
    while True:
        found = read(state_dir)
        if found is not None and (pid is None or found.pid == pid):
            return found
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)
