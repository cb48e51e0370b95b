"""Fixtures for the agent's tests: the shared signed-job vectors, libvirt test-driver hosts, signing helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.state import b64url_encode
from fleetvisor_agent.verify import canonical_bytes

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "signed_jobs.json"
ANNOUNCEMENT_VECTORS_PATH = VECTORS_PATH.with_name("key_announcements.json")
DEFAULT_URI = "test:///default"
TEST_VM_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

# Three VMs in three states, as a <node> document for the test driver.
WEB1 = "11111111-1111-4111-8111-111111111111"
DB1 = "22222222-2222-4222-8222-222222222222"
CACHE1 = "33333333-3333-4333-8333-333333333333"
NODE_XML = """<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>
       <active>4</active><mhz>2000</mhz><model>x86_64</model></cpu>
  <memory>8388608</memory>
  {domains}
  {pool}
</node>
"""
DOMAIN_XML = """<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>{name}</name><uuid>{uuid}</uuid><memory>{memory}</memory><vcpu>{vcpus}</vcpu>
    <os><type>hvm</type></os>{lifecycle}<test:runstate>{runstate}</test:runstate>
    <devices>{devices}</devices>
  </domain>"""
# db1's disks: two pool volumes (one by path, one by pool and name), a file outside every pool, and an ISO
# in the pool that must survive deleting db1 with its storage; and one NIC.
DB1_DEVICES = """
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/fv-pool/db1.qcow2'/>
        <target dev='vda' bus='virtio'/></disk>
      <disk type='volume' device='disk'><source pool='fv-pool' volume='db1-data.img'/>
        <target dev='vdb' bus='virtio'/></disk>
      <disk type='file' device='disk'><source file='/elsewhere/db1-scratch.img'/><target dev='vdc' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><source file='/fv-pool/install.iso'/><target dev='hdc' bus='ide'/>
        <readonly/></disk>
      <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/>
        <model type='virtio'/></interface>"""
POOL_XML = """<pool type='dir'>
    <name>fv-pool</name><uuid>44444444-4444-4444-8444-444444444444</uuid><target><path>/fv-pool</path></target>
    <volume type='file'><name>db1.qcow2</name><capacity>1073741824</capacity>
      <target><path>/fv-pool/db1.qcow2</path></target></volume>
    <volume type='file'><name>db1-data.img</name><capacity>1073741824</capacity>
      <target><path>/fv-pool/db1-data.img</path></target></volume>
    <volume type='file'><name>install.iso</name><capacity>1048576</capacity>
      <target><path>/fv-pool/install.iso</path></target></volume>
  </pool>"""
NODE_VMS = [  # name, uuid, memory KiB, vcpus, libvirt state number, devices
    ("web1", WEB1, 1048576, 2, 1, ""),
    ("db1", DB1, 2097152, 4, 5, DB1_DEVICES),
    ("cache1", CACHE1, 524288, 1, 3, ""),
]
# A running VM that an ACPI shutdown never stops: the test driver restarts it at once (on_poweroff restart),
# so a vm.shutdown with a timeout waits the whole timeout for it.
STUBBORN1 = "55555555-5555-4555-8555-555555555555"
STUBBORN_XML = DOMAIN_XML.format(name="stubborn1", uuid=STUBBORN1, memory=262144, vcpus=1, runstate=1, devices="",
                                 lifecycle="<on_poweroff>restart</on_poweroff>")


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS_PATH.read_text())


@pytest.fixture(scope="session")
def vector_key(vectors: dict[str, Any]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vectors["signing_key_seed_hex"]))


def sign_envelope(payload: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    body = canonical_bytes(payload)
    return {"v": 1, "kid": kid, "payload": b64url_encode(body), "sig": b64url_encode(key.sign(body))}


def announce(serial: int, keys: list[dict[str, str]], signers: dict[str, Ed25519PrivateKey]) -> dict[str, Any]:
    """A key announcement of `keys`, signed by each of `signers` (docs/protocol.md)."""
    body = canonical_bytes({"v": 1, "type": "signing_keys", "serial": serial, "keys": keys})
    return {"v": 1, "payload": b64url_encode(body),
            "sigs": [{"kid": kid, "sig": b64url_encode(key.sign(body))} for kid, key in sorted(signers.items())]}


def sign_raw(body: bytes, key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """An envelope around exactly these bytes, canonical or not."""
    return {"v": 1, "kid": kid, "payload": b64url_encode(body), "sig": b64url_encode(key.sign(body))}


@pytest.fixture
def node_uri(tmp_path: Path) -> str:
    """A fresh test-driver host with web1 (running), db1 (shutoff, with disks) and cache1 (paused), and a pool."""
    domains = "\n  ".join(DOMAIN_XML.format(name=n, uuid=u, memory=m, vcpus=c, runstate=s, devices=d, lifecycle="")
                          for n, u, m, c, s, d in NODE_VMS)
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML.format(domains=domains, pool=POOL_XML))
    return f"test://{path}"


@pytest.fixture
def stubborn_uri(tmp_path: Path) -> str:
    """A test-driver host with one VM, stubborn1: running, and an ACPI shutdown never stops it."""
    path = tmp_path / "stubborn.xml"
    path.write_text(NODE_XML.format(domains=STUBBORN_XML, pool=""))
    return f"test://{path}"


@pytest.fixture
def node_host(node_uri: str) -> Iterator[Host]:
    host = Host(node_uri)
    yield host
    host.close()


@pytest.fixture
def default_host() -> Iterator[Host]:
    """test:///default, whose state is shared by the whole process: the test VM is put back to running."""
    host = Host(DEFAULT_URI)
    yield host
    domain = host.connection().lookupByUUIDString(TEST_VM_UUID)
    state = domain.state()[0]
    if state == 3:  # paused
        domain.resume()
    elif state != 1:
        domain.create()
    host.close()
