"""Serial console figures on a real QEMU guest through the whole local stack (API, agent, libvirtd, S3).

Latency, byte on the serial port → readable through the API: the guest gets a
second serial port backed by a unix socket on this host, and relays it to its
console (`cat /dev/ttyS1 &`). The benchmark writes a marker into the socket
and times until a reader, long-polling `output` and fetching chunks as the web
app does, has the marker. The relay itself adds about 6 ms (measured once
here with a direct libvirt stream), so the figures are a slight upper bound.
Markers go out 0.2–0.8 s apart, each the first byte after a quiet spell: the
case an operator typing at a prompt meets.

Latency, keystroke → its echo readable: the other way round, a marker typed
through `POST .../input` (as the web app sends a keystroke) until the
shell's echo of it is readable, so the input path (the console's ring on
the agent's own queue, a fetch, the write into the port) is in it too.

S3 requests per console-minute, idle and busy: each chunk costs one PUT (the
agent), one HeadObject (the control plane checks it) and one GET per reader;
nothing else touches S3 (presigning is local). The benchmark counts the
chunks the session recorded in a quiet minute and in a minute of the guest
printing as fast as its serial port goes (`yes`), with one reader attached.
"""

from __future__ import annotations

import random
import socket
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import libvirt
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.local import LocalStack, StackConfig, free_port  # noqa: E402
from tests.e2e.console_terminal import ConsoleTerminal  # noqa: E402
from tests.hypervisor.guest import URI, QemuGuest, define_guest, prepare  # noqa: E402

SAMPLES = 40
MINUTE = 60.0


def add_relay_port(guest: QemuGuest, path: str) -> None:
    """A second serial port (ttyS1) the host can write into through a unix socket."""
    conn = libvirt.open(URI)
    domain = conn.lookupByName(guest.name)
    xml = ET.fromstring(domain.XMLDesc(0))
    serial = ET.SubElement(xml.find("devices"), "serial", type="unix")  # type: ignore[arg-type]
    ET.SubElement(serial, "source", mode="bind", path=path)
    ET.SubElement(serial, "target", port="1")
    conn.defineXML(ET.tostring(xml, encoding="unicode"))
    conn.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(term: ConsoleTerminal, send: Callable[[bytes], None], prefix: str) -> list[float]:
    """Milliseconds from `send(marker)` until a reader has the marker, for SAMPLES markers."""
    sent: dict[bytes, float] = {}
    seen: dict[bytes, float] = {}
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            term.poll(wait=5)
            now = time.monotonic()
            for marker in [m for m in list(sent) if m not in seen and m in term.text]:
                seen[marker] = now

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for index in range(SAMPLES):
        time.sleep(random.uniform(0.2, 0.8))  # noqa: S311 - spacing, not security
        marker = f"{prefix}{index:04d}X".encode()
        sent[marker] = time.monotonic()
        send(marker)
        deadline = time.monotonic() + 10
        while marker not in seen and time.monotonic() < deadline:
            time.sleep(0.001)
    stop.set()
    reader.join(timeout=10)
    return [(seen[marker] - sent[marker]) * 1000 for marker in sent if marker in seen]


def _type(typist: requests.Session, url: str, term: ConsoleTerminal, data: str) -> None:
    """What the web app sends for a keystroke, on a session of its own (the reader polls meanwhile)."""
    answer = typist.post(f"{url}/api/consoles/{term.console_id}/input", json={"client_id": term.client_id,
                                                                              "data": data}, timeout=10)
    answer.raise_for_status()


def chunks_in(term: ConsoleTerminal, seconds: float) -> tuple[int, int]:
    """(chunks the session recorded, bytes read) while one reader keeps up for `seconds`."""
    first = term.after
    read_before = len(term.text)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        term.poll(wait=max(0, min(20, int(deadline - time.monotonic()))))
    return term.after - first, len(term.text) - read_before


def main() -> None:
    guest = define_guest(prepare())
    relay_path = f"/tmp/{guest.name}.relay"  # noqa: S108 - QEMU (not root) must be able to create it
    try:
        add_relay_port(guest, relay_path)
        guest.start()
        guest.wait_ready()
        with tempfile.TemporaryDirectory() as tmp:
            config = StackConfig(root=Path(tmp), api_port=free_port(), spa_dir=None, libvirt_uri=URI,
                                 admin_password="bench admin password", agent_name="bench-console")
            with LocalStack(config) as stack:
                stack.wait_for_agents(1)
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {stack.login()}"
                [agent] = session.get(f"{stack.url}/api/agents", timeout=10).json()["agents"]
                vm_path = f"/api/agents/{agent['agent_id']}/vms/{guest.uuid}"
                while session.get(f"{stack.url}{vm_path}", timeout=10).json()["state"] != "running":
                    time.sleep(0.1)
                term = ConsoleTerminal.open(session, stack.url, vm_path)
                term.wait_open()
                term.type("stty -F /dev/ttyS1 raw -echo; cat /dev/ttyS1 &\r")
                term.wait_for(b"cat /dev/ttyS1")
                relay = socket.socket(socket.AF_UNIX)
                relay.connect(relay_path)
                samples = latency(term, lambda marker: relay.sendall(marker + b"\n"), "LAT")
                typist = requests.Session()
                typist.headers.update(session.headers)
                echoes = latency(term, lambda marker: _type(typist, stack.url, term, f": {marker.decode()}\r"), "KEY")
                time.sleep(2)
                idle_chunks, _ = chunks_in(term, MINUTE)
                term.type("timeout 60 yes fleetvisor-busy-console-line-0123456789\r")
                busy_chunks, busy_bytes = chunks_in(term, MINUTE)
                relay.close()
    finally:
        guest.remove()
        Path(relay_path).unlink(missing_ok=True)
    print("console: a real QEMU guest's serial console through API, agent and S3 (software emulation)")
    print(f"  latency byte on the serial port → readable through the API ({len(samples)}/{SAMPLES} markers): "
          f"p50 {pct(samples, 50):.0f} ms, p99 {pct(samples, 99):.0f} ms, max {max(samples):.0f} ms "
          f"(goal p50 ≤ 500 ms, p99 ≤ 1500 ms)")
    print(f"  latency keystroke sent to the API → its echo readable ({len(echoes)}/{SAMPLES}): p50 "
          f"{pct(echoes, 50):.0f} ms, p99 {pct(echoes, 99):.0f} ms, max {max(echoes):.0f} ms (the agent waits on "
          f"its own queue and fetches when its console is rung)")
    for label, chunks in (("idle", idle_chunks), ("busy", busy_chunks)):
        print(f"  {label} minute: {chunks} chunks → S3 requests: {chunks} PUT + {chunks} HEAD + {chunks} GET "
              f"(1 reader) = {3 * chunks}")
    print(f"  busy minute carried {busy_bytes / 1024:.0f} KiB ({busy_bytes / MINUTE / 1024:.1f} KiB/s, "
          f"{busy_bytes / max(1, busy_chunks) / 1024:.1f} KiB per chunk)")


if __name__ == "__main__":
    main()
