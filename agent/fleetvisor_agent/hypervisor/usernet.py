"""A user-mode NIC with TCP port forwards: a VM reachable on a port of the host, without a bridge.

For a host with no libvirt network to put VMs on (a rented server with one address, a laptop), or
a VM that should be reached only through the host, `vm.deploy` takes
`"network": {"mode": "user", "forwards": [{"address", "host_port", "guest_port"}]}`: QEMU's own
user-mode networking (the guest is 10.0.2.15 behind QEMU's NAT, its DHCP and DNS served by QEMU)
with each forward a listening socket of the QEMU process on `address:host_port`.

libvirt cannot say that itself on the hosts we support: `<interface type='user'>` takes no port
forwards, and its passt backend (which does) is not in Debian 12's libvirt 9.0. So the NIC is
QEMU's `-netdev user,hostfwd=…` and `-device` in the domain's `<qemu:commandline>`, built here from
the job's checked integers and IP literal (nothing free-form reaches QEMU's command line). It is
part of the definition, so it survives restarts; libvirt marks such a domain "custom-argv"
tainted, and does not list the NIC among the domain's interfaces. The device sits at a fixed PCI
slot (ROOT_SLOT) on the root bus: left to QEMU it would take the first free slot, which libvirt
has already given to its own root ports; libvirt fills root-bus slots from 1 upwards, eight
devices a slot, so slot 0x10 is free unless a VM has over a hundred PCI devices.

A forward's address is the host's to choose: 127.0.0.1 (the default) keeps the VM reachable only
from the host itself (an operator jumps through it: `ssh -J host -p PORT user@127.0.0.1`); a host
address publishes it. A port already taken makes the VM fail to start (`host_port_in_use`).
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ET.register_namespace("qemu", QEMU_NS)
NETDEV_ID = "fvuser0"
ROOT_SLOT = "0x10"
DEVICES = {"virtio": "virtio-net-pci", "e1000e": "e1000e"}
ROOT_BUS = {"q35": "pcie.0", "pc": "pci.0"}
# QEMU's words when a forward's socket cannot be bound (its port is taken, or the address is not the host's).
BIND_FAILED = "Could not set up host forwarding rule"


def random_mac() -> str:
    """A locally administered address in QEMU's 52:54:00 range, as libvirt gives its own NICs."""
    return "52:54:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))  # noqa: S311 - not a secret


def add(domain: ET.Element, machine: str, model: str, forwards: Sequence[Mapping[str, Any]]) -> None:
    """Give `domain` the user-mode NIC (a new MAC) with these forwards."""
    rules = ",".join(f"hostfwd=tcp:{rule['address']}:{int(rule['host_port'])}-:{int(rule['guest_port'])}"
                     for rule in forwards)
    netdev = f"user,id={NETDEV_ID}" + (f",{rules}" if rules else "")
    device = f"{DEVICES[model]},netdev={NETDEV_ID},mac={random_mac()},bus={ROOT_BUS[machine]},addr={ROOT_SLOT}"
    commandline = ET.SubElement(domain, f"{{{QEMU_NS}}}commandline")
    for value in ("-netdev", netdev, "-device", device):
        ET.SubElement(commandline, f"{{{QEMU_NS}}}arg", value=value)


def forwards(domain_xml: str | ET.Element) -> list[str]:
    """The domain's forwards as `address:host_port->guest_port/tcp`, in the order given."""
    found = []
    for netdev in _netdevs(domain_xml):
        for part in netdev.split(","):
            if part.startswith("hostfwd=tcp:"):
                host, _, guest = part.removeprefix("hostfwd=tcp:").partition("-:")
                found.append(f"{host}->{guest}/tcp")
    return found


def renew(domain: ET.Element) -> None:
    """For a clone: the NIC keeps its model but gets a new MAC and no forwards (the source's ports are the
    source's: two VMs cannot listen on one)."""
    for commandline in domain.findall(f"{{{QEMU_NS}}}commandline"):
        for arg in commandline.findall(f"{{{QEMU_NS}}}arg"):
            value = arg.get("value", "")
            if value.startswith(f"user,id={NETDEV_ID}"):
                arg.set("value", f"user,id={NETDEV_ID}")
            elif f"netdev={NETDEV_ID}," in value:
                arg.set("value", ",".join(f"mac={random_mac()}" if part.startswith("mac=") else part
                                          for part in value.split(",")))


def _netdevs(domain_xml: str | ET.Element) -> list[str]:
    root = ET.fromstring(domain_xml) if isinstance(domain_xml, str) else domain_xml
    return [arg.get("value", "") for arg in root.iter(f"{{{QEMU_NS}}}arg")
            if arg.get("value", "").startswith(f"user,id={NETDEV_ID}")]
