"""vm.deploy's argument schema (strict: every key typed and bounded, nothing unknown), its domain XML, and the
first-boot parser, without libvirt; the deployment itself is tests/hypervisor/test_deploy.py."""

from __future__ import annotations

import base64
import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from fleetvisor_agent import jobs
from fleetvisor_agent.firstboot import Parser
from fleetvisor_agent.hypervisor import usernet
from fleetvisor_agent.jobs.clone import clone_xml
from fleetvisor_agent.jobs.deploy import Media, domain_xml

SHA = "ab" * 32
VALID: dict[str, Any] = {
    "name": "web-1", "vcpus": 2, "memory_mib": 4096, "firmware": "uefi", "secure_boot": True, "tpm": True,
    "machine": "q35", "disk_bus": "virtio", "nic_model": "virtio", "network": "default",
    "disk": {"size_gib": 40, "mode": "overlay",
             "source": {"url": "https://cloud.debian.org/x.qcow2", "sha256": SHA, "format": "qcow2",
                        "max_bytes": 4294967296}},
    "cdroms": [{"source": {"url": "https://example.com/virtio.iso", "sha256": SHA, "max_bytes": 10**9}},
               {"source": {"pool": "default", "volume": "x.iso", "sha256": SHA}},
               {"generated": {"label": "cidata", "files": {"user-data": "#cloud-config\nx: 1\n",
                                                           "meta-data": "instance-id: i\n",
                                                           "network-config": "version: 2\n"}}}],
    "boot": ["hd", "cdrom"],
    "first_boot": {"marker": "FLEETVISOR-FIRST-BOOT", "timeout_seconds": 1800},
}


USER_FORWARD = {"address": "127.0.0.1", "host_port": 2222, "guest_port": 22}
USER_NETWORK = {"mode": "user", "forwards": [USER_FORWARD, {**USER_FORWARD, "host_port": 8080, "guest_port": 80}]}


def changed(path: list[Any], value: Any) -> dict[str, Any]:
    args = copy.deepcopy(VALID)
    target: Any = args
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return args


def test_the_contracts_example_is_accepted_and_so_are_a_blank_disk_and_no_watch() -> None:
    assert jobs.args_valid("vm.deploy", VALID)
    assert jobs.args_valid("vm.deploy", changed(["disk"], {"size_gib": 20, "mode": "blank"}))
    assert jobs.args_valid("vm.deploy", changed(["first_boot"], None))
    assert jobs.args_valid("vm.deploy", changed(["cdroms"], []))
    assert jobs.args_valid("vm.deploy", changed(["network"], USER_NETWORK))
    assert jobs.args_valid("vm.deploy", changed(["network"], {"mode": "user", "forwards": []}))


@pytest.mark.parametrize(("path", "value"), [
    (["surprise"], 1),  # unknown key at the top
    (["disk", "source", "surprise"], 1),  # unknown key nested
    (["cdroms", 2, "generated", "surprise"], 1),
    (["first_boot", "surprise"], 1),
    (["name"], KeyError),  # a required key missing
    (["disk", "source"], KeyError),  # overlay without a source
    (["disk", "source", "format"], KeyError),
    (["name"], "web 1"), (["name"], "-web"), (["name"], "w" * 65),
    (["vcpus"], 0), (["vcpus"], 257), (["vcpus"], True), (["vcpus"], "2"),
    (["memory_mib"], 63),
    (["firmware"], "coreboot"), (["machine"], "virt"), (["disk_bus"], "scsi"), (["nic_model"], "rtl8139"),
    (["secure_boot"], 1), (["tpm"], "yes"),
    (["disk", "size_gib"], 0), (["disk", "size_gib"], 65537),
    (["disk", "mode"], "thin"),
    (["disk", "source", "url"], "ftp://example.com/x"), (["disk", "source", "url"], "https://a b/x"),
    (["disk", "source", "sha256"], "AB" * 32), (["disk", "source", "sha256"], "ab" * 31),
    (["disk", "source", "max_bytes"], 2**40 + 1), (["disk", "source", "format"], "vmdk"),
    (["cdroms"], [{"generated": {"label": "cidata", "files": {}}}]),
    (["cdroms"], [{"generated": {"label": "ci data", "files": {"user-data": "x"}}}]),
    (["cdroms"], [{"generated": {"label": "cidata", "files": {"../user-data": "x"}}}]),
    (["cdroms"], [{"generated": {"label": "cidata", "files": {"user-data": "x" * (48 * 1024 + 1)}}}]),
    (["cdroms"], [{"generated": {"label": "cidata", "files": {"user-data": 7}}}]),
    (["cdroms"], [{"source": {"pool": "default", "volume": "x.iso"}}]),  # no sha256
    (["cdroms"], [{"source": {"url": "https://e.com/x.iso", "sha256": SHA, "max_bytes": 1}, "generated": {}}]),
    (["cdroms"], [{}] * 5),
    (["boot"], []), (["boot"], ["floppy"]),
    (["first_boot", "timeout_seconds"], 0), (["first_boot", "marker"], "lower"),
    (["network"], {"mode": "bridge", "forwards": []}), (["network"], {"mode": "user"}),
    (["network"], {"mode": "user", "forwards": [USER_FORWARD] * 9}),
    (["network"], {"mode": "user", "forwards": [{**USER_FORWARD, "host_port": 0}]}),
    (["network"], {"mode": "user", "forwards": [{**USER_FORWARD, "guest_port": 65536}]}),
    (["network"], {"mode": "user", "forwards": [{**USER_FORWARD, "address": "::1"}]}),  # QEMU 7.2: IPv4 only
    (["network"], {"mode": "user", "forwards": [{**USER_FORWARD, "address": "127.0.0.1,hostfwd=tcp::1-:2"}]}),
    (["network"], {"mode": "user", "forwards": [{**USER_FORWARD, "address": "localhost"}]}),
    (["network"], {"mode": "user", "forwards": [{**USER_FORWARD, "proto": "udp"}]}),
])
def test_anything_else_is_refused(path: list[Any], value: Any) -> None:
    assert not jobs.args_valid("vm.deploy", changed(path, value))


def test_the_domain_has_what_the_arguments_ask_for() -> None:
    xml = domain_xml(VALID, Media("/p/web-1.qcow2", "qcow2"), [Media("/p/a.iso"), Media("/p/b.iso")], "kvm", "job_1")

    assert xml.get("type") == "kvm" and xml.find("cpu").get("mode") == "host-passthrough"  # type: ignore[union-attr]
    assert xml.findtext("memory") == "4096" and xml.findtext("vcpu") == "2"
    assert [(d.get("device"), d.find("target").get("dev"), d.find("target").get("bus"))  # type: ignore[union-attr]
            for d in xml.findall("devices/disk")] == [("disk", "vda", "virtio"), ("cdrom", "sda", "sata"),
                                                     ("cdrom", "sdb", "sata")]
    assert all(d.find("readonly") is not None for d in xml.findall("devices/disk[@device='cdrom']"))
    assert xml.find("devices/graphics/listen").get("address") == "127.0.0.1"  # type: ignore[union-attr]
    pc = domain_xml({**VALID, "machine": "pc", "disk_bus": "sata", "firmware": "bios", "secure_boot": False,
                     "tpm": False}, Media("/p/d.qcow2", "qcow2"), [Media("/p/a.iso")], "qemu", "job_2")
    assert [d.find("target").get("dev") for d in pc.findall("devices/disk")] == ["sda", "hda"]  # type: ignore[union-attr]
    assert pc.find("os/loader") is None and pc.find("devices/tpm") is None and pc.find("cpu") is None
    ET.tostring(pc)


def test_the_parser_takes_marker_lines_after_a_prefix_and_split_across_reads() -> None:
    parser = Parser("FLEETVISOR-FIRST-BOOT")
    parser.feed(b"[   12.1] cloud-init[812]: FLEETVISOR-FIRST-BOOT installer=db line=b2s=\r\nnoise\nFLEETVISOR-FI")
    parser.feed(b"RST-BOOT installer=db exit=3\r\nFLEETVISOR-FIRST-BOOT installer=web exit=0\n")
    assert not parser.done
    parser.feed(b"FLEETVISOR-FIRST-BOOT installer=web exit=0 trailing\nFLEETVISOR-FIRST-BOOT done\n")

    assert parser.done
    assert [item.as_dict() for item in parser.installers] == [
        {"id": "db", "exit": 3, "meaning": "configuration_error", "last_lines": ["ok"]},
        {"id": "web", "exit": 0, "meaning": "ok", "last_lines": []}]


def test_the_parser_keeps_the_last_twenty_lines_and_names_unknown_codes() -> None:
    parser = Parser("M")
    for number in range(25):
        parser.feed(f"M installer=x line={base64.b64encode(str(number).encode()).decode()}\n".encode())
    parser.feed(b"M installer=x exit=77\nM installer=y line=!!!\n")

    (only,) = parser.installers  # "!!!" is no base64: that line does not match, so there is no installer y
    assert only.last_lines == [str(n) for n in range(5, 25)] and only.as_dict()["meaning"] == "unknown"


def test_a_user_mode_nic_forwards_host_ports_from_qemus_own_command_line() -> None:
    xml = domain_xml({**VALID, "network": USER_NETWORK}, Media("/p/d.qcow2", "qcow2"), [], "qemu", "job_3")
    assert xml.find("devices/interface") is None  # libvirt's own NIC would be a second one
    args = [arg.get("value") for arg in xml.iter(f"{{{usernet.QEMU_NS}}}arg")]
    assert args[0] == "-netdev" and args[2] == "-device"
    assert args[1] == "user,id=fvuser0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80"
    device = dict(part.split("=") for part in args[3].split(",")[1:])
    assert args[3].startswith("virtio-net-pci,") and device["bus"] == "pcie.0" and device["addr"] == "0x10"
    assert re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", device["mac"])
    text = ET.tostring(xml, encoding="unicode")
    assert usernet.forwards(text) == ["127.0.0.1:2222->22/tcp", "127.0.0.1:8080->80/tcp"]
    pc = domain_xml({**VALID, "machine": "pc", "nic_model": "e1000e", "secure_boot": False, "network":
                     {"mode": "user", "forwards": []}}, Media("/p/d.qcow2", "qcow2"), [], "qemu", "job_4")
    assert [arg.get("value") for arg in pc.iter(f"{{{usernet.QEMU_NS}}}arg")][1] == "user,id=fvuser0"
    assert "e1000e,netdev=fvuser0," in ET.tostring(pc, encoding="unicode") and ",bus=pci.0," in \
        ET.tostring(pc, encoding="unicode")


def test_a_clone_of_a_user_mode_vm_gets_a_new_mac_and_none_of_the_sources_forwards() -> None:
    source = ET.tostring(domain_xml({**VALID, "network": USER_NETWORK}, Media("/p/d.qcow2", "qcow2"), [], "qemu",
                                    "job_5"), encoding="unicode")
    clone = clone_xml(source, "web-2", {}, "job_6")
    args = [arg.get("value", "") for arg in clone.iter(f"{{{usernet.QEMU_NS}}}arg")]
    before = [arg.get("value", "") for arg in ET.fromstring(source).iter(f"{{{usernet.QEMU_NS}}}arg")]
    assert args[1] == "user,id=fvuser0" and usernet.forwards(clone) == []
    mac = [part for part in args[3].split(",") if part.startswith("mac=")]
    assert len(mac) == 1 and mac[0] not in before[3]
