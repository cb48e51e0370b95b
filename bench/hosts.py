"""Test-driver host definitions for benchmarks and tests: many VMs, one file."""

from __future__ import annotations

import uuid
from pathlib import Path
from xml.etree import ElementTree as ET


def many_vms_node(path: Path, count: int) -> str:
    """Write a libvirt test-driver node with `count` running VMs; returns its URI."""
    node = ET.Element("node")
    for i in range(count):
        domain = ET.SubElement(node, "domain", type="test")
        ET.SubElement(domain, "name").text = f"vm-{i:03d}"
        ET.SubElement(domain, "uuid").text = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleetvisor-bench-{i}"))
        ET.SubElement(domain, "memory").text = str(512 * 1024)
        ET.SubElement(domain, "vcpu").text = "1"
        os_el = ET.SubElement(domain, "os")
        ET.SubElement(os_el, "type").text = "hvm"
    path.write_bytes(ET.tostring(node))
    return f"test://{path.resolve()}"
