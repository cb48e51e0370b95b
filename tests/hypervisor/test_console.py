"""A VM's serial console as the agent's SerialConsole sees it on real QEMU: output, input, one holder at a
time, and the end of the stream when the VM stops. (libvirt's test driver has no consoles; what it says
instead is checked in tests/agent/test_jobs.py.)"""

from __future__ import annotations

import time

import pytest
from fleetvisor_agent.hypervisor.errors import CONSOLE_BUSY, INVALID_STATE, HypervisorError
from fleetvisor_agent.hypervisor.host import Host

from .guest import QemuGuest, virsh


def _read_until(console: object, needle: bytes, timeout: float = 10) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, seen[-300:]
        data = console.read(0.2)  # type: ignore[attr-defined]
        assert data is not None, f"the stream ended before {needle!r}: {seen[-300:]!r}"
        seen += data
    return seen


def test_typed_input_echoes_and_a_second_holder_is_refused_as_busy(host: Host, guest: QemuGuest) -> None:
    guest.ensure_running_ready()
    console = host.guest(guest.uuid).open_console()
    try:
        with pytest.raises(HypervisorError) as busy:
            host.guest(guest.uuid).open_console()
        assert busy.value.code == CONSOLE_BUSY
        started = time.monotonic()
        console.write(b"echo console-$((40+2))\r")
        _read_until(console, b"console-42")
        assert time.monotonic() - started < 2
    finally:
        console.close()
    host.guest(guest.uuid).open_console().close()  # released: the next holder gets it


def test_the_stream_ends_when_the_vm_stops(host: Host, guest: QemuGuest) -> None:
    guest.ensure_running_ready()
    console = host.guest(guest.uuid).open_console()
    try:
        virsh("destroy", guest.name)
        deadline = time.monotonic() + 10
        while console.read(0.2) is not None:
            assert time.monotonic() < deadline, "the console did not end with the VM"
        assert console.ended
    finally:
        console.close()


def test_a_stopped_vm_has_no_console(host: Host, guest: QemuGuest) -> None:
    guest.ensure_shut_off()
    with pytest.raises(HypervisorError) as refused:
        host.guest(guest.uuid).open_console()
    assert refused.value.code == INVALID_STATE
