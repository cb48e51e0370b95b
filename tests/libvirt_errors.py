"""What each libvirt mistake comes out as, per driver: one table of real failures that both driver suites run.

Every case makes libvirt itself fail, through the agent's hypervisor modules:
`translate.call` around one libvirt call where the agent's own state checks
(guest.py) would answer first on the normal path, or the agent's own
`Snapshots`/`SerialConsole` where those let libvirt's error through. Nothing
is faked: tests/agent runs the "test" column on libvirt's test driver,
tests/hypervisor the "qemu" column on a real libvirtd with QEMU guests.

Each row names the libvirt error the driver really raised as well as the
stable code it becomes, because the drivers disagree: starting a running VM is
VIR_ERR_INTERNAL_ERROR on the test driver (so the table cannot place it) and
VIR_ERR_OPERATION_INVALID on QEMU. A row of (None, None) means the driver does
it without complaint. The codes translate.ERRORS lists that no case reaches
are in UNTRIGGERED, each with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libvirt
import pytest
from fleetvisor_agent.hypervisor.errors import STORAGE_ERROR, HypervisorError
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.hypervisor.translate import call

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Scene:
    """What the cases work on: the agent's Host and VMs in known states on it (UUIDs)."""

    host: Host
    running: str
    shutoff: str
    diskless: str  # a VM without any disk: nothing an internal snapshot could go into
    pool: str  # an active storage pool
    volume: str  # a volume in it
    agent_channel: str | None = None  # a shut-off VM with a guest-agent channel and no agent inside

    def domain(self, uuid: str) -> libvirt.virDomain:
        return self.host.connection().lookupByUUIDString(uuid)

    def states(self) -> dict[str, int]:
        uuids = (self.running, self.shutoff, self.diskless, self.agent_channel)
        return {uuid: self.domain(uuid).state(0)[0] for uuid in uuids if uuid is not None}


@dataclass(frozen=True)
class Case:
    run: Callable[[Scene], object]
    vm: str | None = None  # which of the scene's VMs the message names ("running", "shutoff", …)


def _on(vm: str, operation: Callable[[libvirt.virDomain], object]) -> Case:
    """A libvirt call on one of the scene's VMs, read by the agent's table."""
    def run(scene: Scene) -> object:
        domain = scene.domain(getattr(scene, vm))
        return call(lambda: operation(domain), repr(domain.name()))

    return Case(run, vm)


def _second_console(scene: Scene) -> None:
    first = scene.host.guest(scene.running).open_console()
    try:
        scene.host.guest(scene.running).open_console().close()
    finally:
        first.close()


def _guest_agent_not_connected(scene: Scene) -> object:
    assert scene.agent_channel is not None
    domain = scene.domain(scene.agent_channel)
    domain.create()  # QEMU starting is enough: nothing in the guest ever answers on the channel
    try:
        return call(lambda: domain.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT), repr(domain.name()))
    finally:
        domain.destroy()


def _read_only_force_stop(scene: Scene) -> object:
    conn = libvirt.openReadOnly(scene.host.uri)
    try:
        return call(lambda: conn.lookupByUUIDString(scene.running).destroy())
    finally:
        conn.close()


def _closed_connection(scene: Scene) -> object:
    conn = libvirt.open(scene.host.uri)
    conn.close()  # what a libvirtd restart leaves each client holding
    return call(lambda: conn.listAllDomains(0))


def _volume_exists(scene: Scene) -> object:
    pool = scene.host.connection().storagePoolLookupByName(scene.pool)
    xml = f"<volume><name>{scene.volume}</name><capacity>1</capacity></volume>"
    return call(lambda: pool.createXML(xml, 0), fallback=STORAGE_ERROR)


CASES: dict[str, Case] = {
    "no_such_vm": Case(lambda s: call(lambda: s.host.connection().lookupByUUIDString(UNKNOWN_UUID))),
    "start_a_running_vm": _on("running", lambda d: d.create()),
    "resume_a_running_vm": _on("running", lambda d: d.resume()),
    "suspend_a_shutoff_vm": _on("shutoff", lambda d: d.suspend()),
    "force_stop_a_shutoff_vm": _on("shutoff", lambda d: d.destroy()),
    "no_such_snapshot": _on("running", lambda d: d.snapshotLookupByName("nope", 0)),
    "snapshot_of_a_diskless_vm": Case(lambda s: s.host.guest(s.diskless).snapshots().create("s1"), "diskless"),
    "console_of_a_shutoff_vm": Case(lambda s: s.host.guest(s.shutoff).open_console(), "shutoff"),
    "second_console": Case(_second_console, "running"),
    "flags_the_driver_does_not_know": _on("running", lambda d: d.shutdownFlags(1 << 20)),
    "guest_agent_not_configured": _on("running", lambda d: d.shutdownFlags(
        libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT)),
    "guest_agent_not_connected": Case(_guest_agent_not_connected, "agent_channel"),
    "read_only_connection": Case(_read_only_force_stop),
    "closed_connection": Case(_closed_connection),
    "no_driver_for_the_uri": Case(lambda s: call(lambda: libvirt.open("fleetvisor-nosuch:///"))),
    "libvirtd_socket_missing": Case(lambda s: call(
        lambda: libvirt.open("qemu+unix:///system?socket=/nonexistent/libvirt-sock"))),
    "no_such_volume": Case(lambda s: call(lambda: s.host.connection().storageVolLookupByPath("/nowhere/disk.img"),
                                          fallback=STORAGE_ERROR)),
    "no_such_pool": Case(lambda s: call(lambda: s.host.connection().storagePoolLookupByName("nope"),
                                        fallback=STORAGE_ERROR)),
    "volume_name_taken": Case(_volume_exists),
}

# case → driver → (the libvirt error it really raises, the stable code the agent reports). A case a driver
# has no row for is one it cannot stage (the test driver has no guest-agent channels) or one that does not
# depend on the driver (the connection cases run once). An unknown URI scheme falls through to libvirt's
# remote driver, which answers NO_CONNECT only when libvirtd is there to refuse it (with no daemon it is a
# socket SYSTEM_ERROR), so that case runs with the QEMU suite, which starts libvirtd.
EXPECTED: dict[str, dict[str, tuple[str | None, str | None]]] = {
    "no_such_vm": {"test": ("VIR_ERR_NO_DOMAIN", "vm_not_found"), "qemu": ("VIR_ERR_NO_DOMAIN", "vm_not_found")},
    "start_a_running_vm": {"test": ("VIR_ERR_INTERNAL_ERROR", "hypervisor_error"),
                           "qemu": ("VIR_ERR_OPERATION_INVALID", "invalid_state")},
    "resume_a_running_vm": {"test": ("VIR_ERR_INTERNAL_ERROR", "hypervisor_error"),
                            "qemu": ("VIR_ERR_OPERATION_INVALID", "invalid_state")},
    "suspend_a_shutoff_vm": {"test": ("VIR_ERR_INTERNAL_ERROR", "hypervisor_error"),
                             "qemu": ("VIR_ERR_OPERATION_INVALID", "invalid_state")},
    "force_stop_a_shutoff_vm": {"test": ("VIR_ERR_OPERATION_INVALID", "invalid_state"),
                                "qemu": ("VIR_ERR_OPERATION_INVALID", "invalid_state")},
    "no_such_snapshot": {"test": ("VIR_ERR_NO_DOMAIN_SNAPSHOT", "snapshot_not_found"),
                         "qemu": ("VIR_ERR_NO_DOMAIN_SNAPSHOT", "snapshot_not_found")},
    "snapshot_of_a_diskless_vm": {"test": (None, None),
                                  "qemu": ("VIR_ERR_CONFIG_UNSUPPORTED", "operation_unsupported")},
    "console_of_a_shutoff_vm": {"test": ("VIR_ERR_NO_SUPPORT", "operation_unsupported"),
                                "qemu": ("VIR_ERR_OPERATION_INVALID", "invalid_state")},
    "second_console": {"test": ("VIR_ERR_NO_SUPPORT", "operation_unsupported"),  # no consoles at all
                       "qemu": ("VIR_ERR_OPERATION_FAILED", "console_busy")},
    "flags_the_driver_does_not_know": {"test": ("VIR_ERR_INVALID_ARG", "hypervisor_error"),
                                       "qemu": ("VIR_ERR_INVALID_ARG", "hypervisor_error")},
    "guest_agent_not_configured": {"test": ("VIR_ERR_INVALID_ARG", "hypervisor_error"),
                                   "qemu": ("VIR_ERR_ARGUMENT_UNSUPPORTED", "operation_unsupported")},
    "guest_agent_not_connected": {"qemu": ("VIR_ERR_AGENT_UNRESPONSIVE", "operation_timeout")},
    "read_only_connection": {"test": ("VIR_ERR_OPERATION_DENIED", "operation_denied"),
                             "qemu": ("VIR_ERR_OPERATION_DENIED", "operation_denied")},
    "closed_connection": {"test": ("VIR_ERR_INVALID_CONN", "hypervisor_unavailable"),
                          "qemu": ("VIR_ERR_INVALID_CONN", "hypervisor_unavailable")},
    "no_driver_for_the_uri": {"qemu": ("VIR_ERR_NO_CONNECT", "hypervisor_unavailable")},
    "libvirtd_socket_missing": {"test": ("VIR_ERR_SYSTEM_ERROR", "hypervisor_unavailable")},
    "no_such_volume": {"test": ("VIR_ERR_NO_STORAGE_VOL", "storage_error"),
                       "qemu": ("VIR_ERR_NO_STORAGE_VOL", "storage_error")},
    "no_such_pool": {"test": ("VIR_ERR_NO_STORAGE_POOL", "storage_error"),
                     "qemu": ("VIR_ERR_NO_STORAGE_POOL", "storage_error")},
    "volume_name_taken": {"test": ("VIR_ERR_OPERATION_FAILED", "storage_error"),  # the caller's fallback
                          "qemu": ("VIR_ERR_STORAGE_VOL_EXIST", "storage_error")},
}

# translate.ERRORS entries no case reaches on either driver, and why; translate.py says the same.
UNTRIGGERED: dict[str, str] = {
    "VIR_ERR_SNAPSHOT_REVERT_RISKY": "QEMU asks for a forced revert only when the VM's definition changed "
                                     "since the snapshot; the test driver never asks",
    "VIR_ERR_INVALID_DOMAIN_SNAPSHOT": "a stale snapshot handle is NO_DOMAIN_SNAPSHOT on both drivers",
    "VIR_ERR_ACCESS_DENIED": "needs libvirtd with an access-control driver (polkit ACLs)",
    "VIR_ERR_AUTH_FAILED": "needs an authenticated (SASL or polkit) connection",
    "VIR_ERR_OPERATION_UNSUPPORTED": "no operation the agent performs raises it on either driver",
    "VIR_ERR_OPERATION_TIMEOUT": "QEMU raises it after 30 s waiting for another job on the same VM",
    "VIR_ERR_AGENT_UNSYNCED": "needs a real guest agent that answers out of step",
    "VIR_ERR_RPC": "needs libvirtd to break the protocol mid-call",
    "VIR_ERR_INVALID_STORAGE_POOL": "an invalid handle, which the Python binding never passes",
    "VIR_ERR_INVALID_STORAGE_VOL": "an invalid handle, which the Python binding never passes",
    "VIR_ERR_STORAGE_PROBE_FAILED": "probing a disk or filesystem pool's device",
    "VIR_ERR_STORAGE_POOL_BUILT": "building a disk or logical pool that is already built",
}

# The stable sentence each code's message carries (docs/protocol.md, "Errors"), before libvirt's own words.
SENTENCES: dict[str, str] = {
    "vm_not_found": "No such VM on this host.",
    "invalid_state": "The VM is not in a state that allows this operation.",
    "snapshot_not_found": "No such snapshot.",
    "operation_denied": "libvirt refused the operation.",
    "operation_unsupported": "This hypervisor or this VM's configuration does not support the operation.",
    "operation_timeout": "The hypervisor did not answer in time.",
    "hypervisor_unavailable": "The hypervisor (libvirtd) is not reachable.",
    "storage_error": "A storage operation failed.",
    "hypervisor_error": "The hypervisor reported an error.",
    "console_busy": "another console session holds its serial port",
}
TRANSIENT = frozenset({"operation_timeout", "hypervisor_unavailable"})


def rows(driver: str) -> list[Any]:
    """pytest parameters (case, libvirt error, stable code) for one driver's column."""
    return [pytest.param(case, *by_driver[driver], id=case) for case, by_driver in EXPECTED.items()
            if driver in by_driver]


def check(scene: Scene, case: str, libvirt_error: str | None, code: str | None) -> None:
    """Run the case; it fails with exactly this libvirt error, stable code and message, and changes no VM."""
    before = scene.states()
    try:
        CASES[case].run(scene)
    except HypervisorError as error:
        cause = _libvirt_cause(error)
        assert (cause.get_error_code(), error.code, error.transient) == (
            getattr(libvirt, str(libvirt_error)), code, code in TRANSIENT), error.message
        vm = CASES[case].vm
        subject = f"VM {scene.domain(getattr(scene, vm)).name()!r}: " if vm else ""
        assert error.message == f"{subject}{SENTENCES[str(code)]} ({cause.get_error_message()})"
    else:
        assert (libvirt_error, code) == (None, None), f"{case} succeeded on this driver"
    assert scene.states() == before


def _libvirt_cause(error: BaseException) -> libvirt.libvirtError:
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, libvirt.libvirtError):
        cause = cause.__cause__
    assert isinstance(cause, libvirt.libvirtError), f"{error!r} did not come from a libvirt error"
    return cause
