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
</node>
"""
DOMAIN_XML = """<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>{name}</name><uuid>{uuid}</uuid><memory>{memory}</memory><vcpu>{vcpus}</vcpu>
    <os><type>hvm</type></os><test:runstate>{runstate}</test:runstate>
  </domain>"""
NODE_VMS = [  # name, uuid, memory KiB, vcpus, libvirt state number
    ("web1", WEB1, 1048576, 2, 1),
    ("db1", DB1, 2097152, 4, 5),
    ("cache1", CACHE1, 524288, 1, 3),
]


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS_PATH.read_text())


@pytest.fixture(scope="session")
def vector_key(vectors: dict[str, Any]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vectors["signing_key_seed_hex"]))


def sign_envelope(payload: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    body = canonical_bytes(payload)
    return {"v": 1, "kid": kid, "payload": b64url_encode(body), "sig": b64url_encode(key.sign(body))}


def sign_raw(body: bytes, key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """An envelope around exactly these bytes, canonical or not."""
    return {"v": 1, "kid": kid, "payload": b64url_encode(body), "sig": b64url_encode(key.sign(body))}


@pytest.fixture
def node_uri(tmp_path: Path) -> str:
    """A fresh test-driver host with web1 (running), db1 (shutoff) and cache1 (paused)."""
    domains = "\n  ".join(DOMAIN_XML.format(name=n, uuid=u, memory=m, vcpus=c, runstate=s)
                          for n, u, m, c, s in NODE_VMS)
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML.format(domains=domains))
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
