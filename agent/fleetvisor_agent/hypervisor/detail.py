"""What vm.detail reports about one VM, read from its (live) domain XML and a few libvirt calls.

Disks come with capacity and allocation from virDomainGetBlockInfo (which QEMU
answers for shut-off VMs too); a disk it cannot measure (an empty CD-ROM, a
missing file) reports null for both. IP addresses come from the QEMU guest
agent if the VM has one, else from libvirt's DHCP leases, else there are none;
they are a hint, never an error. The inventory (every heartbeat) asks only the
host itself, never the guest: DHCP leases, else the host's ARP table
(`HOST_SOURCES`), so a hung guest agent cannot hold up a heartbeat. libvirt has no uptime call: uptime counts
from the VM's start as the agent saw it in a lifecycle event, and is null for
a VM that was already running when the agent connected.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

Sources = tuple[tuple[str, int], ...]  # (name, libvirt's VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*), in order
ADDRESS_SOURCES: Sources = (("agent", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT),
                   ("lease", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE))
HOST_SOURCES: Sources = (("lease", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE),
                ("arp", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP))
ADDRESS_FAMILIES = {libvirt.VIR_IP_ADDR_TYPE_IPV4: "ipv4", libvirt.VIR_IP_ADDR_TYPE_IPV6: "ipv6"}


def describe(domain: libvirt.virDomain, entry: dict[str, Any], started_at: float | None) -> dict[str, Any]:
    """The detail object: the inventory entry plus memory, CPU time, uptime, disks, NICs and IPs."""
    _state, _max_memory, memory_kib, _vcpus, cpu_time_ns = domain.info()
    root = ET.fromstring(domain.XMLDesc(0))
    active = bool(domain.isActive())
    uptime = int(time.time() - started_at) if active and started_at is not None else None
    return {**entry, "current_memory_kib": memory_kib, "cpu_time_ns": cpu_time_ns, "uptime_seconds": uptime,
            "disks": [_disk(domain, disk) for disk in root.findall("devices/disk")],
            "nics": [_nic(nic) for nic in root.findall("devices/interface")],
            "ips": addresses(domain) if active else []}


def _disk(domain: libvirt.virDomain, disk: ET.Element) -> dict[str, Any]:
    source = disk.find("source")
    target = disk.find("target")
    driver = disk.find("driver")
    dev = target.get("dev") if target is not None else None
    capacity, allocation = _block_size(domain, dev)
    return {"target": dev, "bus": target.get("bus") if target is not None else None,
            "device": disk.get("device", "disk"), "type": disk.get("type"),
            "source": _source(disk.get("type"), source), "format": driver.get("type") if driver is not None else None,
            "readonly": disk.find("readonly") is not None,
            "capacity_bytes": capacity, "allocation_bytes": allocation}


def _source(kind: str | None, source: ET.Element | None) -> str | None:
    if source is None:
        return None
    if kind == "volume":
        return f"{source.get('pool')}/{source.get('volume')}"
    if kind == "network":
        return f"{source.get('protocol')}:{source.get('name')}"
    return source.get("file") or source.get("dev") or source.get("dir")


def _block_size(domain: libvirt.virDomain, dev: str | None) -> tuple[int | None, int | None]:
    if dev is None:
        return None, None
    try:
        capacity, allocation, _physical = domain.blockInfo(dev, 0)
    except libvirt.libvirtError:
        return None, None
    return capacity, allocation


def _nic(nic: ET.Element) -> dict[str, Any]:
    def attr(path: str, name: str) -> str | None:
        element = nic.find(path)
        return element.get(name) if element is not None else None

    return {"type": nic.get("type"), "mac": attr("mac", "address"), "network": attr("source", "network"),
            "bridge": attr("source", "bridge"), "model": attr("model", "type"), "target": attr("target", "dev")}


def addresses(domain: libvirt.virDomain, sources: Sources = ADDRESS_SOURCES) -> list[dict[str, Any]]:
    """The VM's addresses from the first of `sources` that knows any."""
    for source, flag in sources:
        try:
            interfaces = domain.interfaceAddresses(flag, 0) or {}
        except libvirt.libvirtError:
            continue  # no guest agent, no DHCP leases here: try the next source
        addresses = [{"interface": name, "mac": iface.get("hwaddr"), "address": address["addr"],
                      "prefix": address["prefix"], "family": ADDRESS_FAMILIES.get(address["type"], "unknown"),
                      "source": source}
                     for name, iface in sorted(interfaces.items()) for address in iface.get("addrs") or []]
        if addresses:
            return addresses
    return []
