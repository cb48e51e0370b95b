"""libvirt's errors on real QEMU, as the agent reports them: the "qemu" column of tests/libvirt_errors.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fleetvisor_agent.hypervisor.host import Host

from tests import libvirt_errors

from .guest import POOL, Image, QemuGuest, define_guest


@pytest.fixture(scope="module")
def bare(image: Image) -> Iterator[QemuGuest]:
    """Shut off, no disk, and a guest-agent channel nobody answers on (the image runs no agent)."""
    guest = define_guest(image, disk=False, agent_channel=True)
    yield guest
    guest.remove()


@pytest.mark.parametrize(("case", "libvirt_error", "code"), libvirt_errors.rows("qemu"))
def test_each_libvirt_mistake_is_reported_with_its_stable_code(host: Host, guest: QemuGuest, bare: QemuGuest,
                                                              case: str, libvirt_error: str | None,
                                                              code: str | None) -> None:
    guest.ensure_running_ready()
    bare.ensure_shut_off()
    assert guest.volume is not None
    scene = libvirt_errors.Scene(host, running=guest.uuid, shutoff=bare.uuid, diskless=bare.uuid, pool=POOL,
                                 volume=guest.volume, agent_channel=bare.uuid)
    libvirt_errors.check(scene, case, libvirt_error, code)
