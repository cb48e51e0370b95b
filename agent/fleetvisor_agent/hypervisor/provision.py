"""What vm.deploy asks of libvirt: the agent's storage pool, cached images, new disks, a new domain.

Everything goes through libvirt's API, never through the host's file system:
the agent runs as a dynamic user that cannot write a pool's directory (and
its libvirtd may be on another machine). Files reach a pool by
virStorageVolUpload; disks are made by virStorageVolCreateXML (an empty
qcow2, or a qcow2 overlay whose backingStore is a cached image, its format
named) or virStorageVolCreateXMLFrom (a full copy), which run qemu-img inside
libvirtd. A pool short of room says `pool_full`: before an upload the pool's
free bytes are compared with the file's size, and libvirt's own "no space"
errors are translated to it.

A cached image is verified again each time it is used (its bytes read back
through virStorageVolDownload and hashed): the check costs a read of the
image, and in return a volume left half-written by an agent that died while
uploading, or changed since, is never booted from; it is deleted and fetched
again.

`Made` records what a deployment created, so a failure anywhere removes
exactly that (the domain with its NVRAM, then its volumes) and nothing else:
the cached image stays for the next job.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import libvirt

from . import detail, usernet
from .errors import STORAGE_ERROR, HypervisorError
from .host import kvm_offered
from .translate import call, translate_error

log = logging.getLogger(__name__)

POOL_FULL = "pool_full"
DEFINE_FAILED = "define_failed"
HOST_PORT_IN_USE = "host_port_in_use"
NAME_TAKEN = "name_taken"
CHECKSUM_MISMATCH = "checksum_mismatch"
STREAM_CHUNK = 1024 * 1024
REFRESH_ATTEMPTS = 20
REFRESH_PAUSE = 0.5
METADATA_NS = "urn:fleetvisor:deploy:1"  # <metadata><deploy job_id=…/> of a VM vm.deploy or vm.clone made
NO_SPACE_WORDS = ("no space left", "not enough space", "not enough free space", "enospc")

Progress = Callable[[int, int | None], None]  # (bytes done, bytes in all)
# What callers above this package hold without importing libvirt themselves.
Volume = libvirt.virStorageVol
Domain = libvirt.virDomain
Connection = libvirt.virConnect


@dataclass
class Made:
    """What this deployment created so far, to remove again if it fails."""

    volumes: list[libvirt.virStorageVol] = field(default_factory=list)
    domain: libvirt.virDomain | None = None


class Storage:
    """The agent's own storage pool on one libvirt connection."""

    def __init__(self, conn: libvirt.virConnect, pool_name: str, pool_dir: Path | None) -> None:
        """The pool `pool_name`; with `pool_dir`, defined there first if the host has no such pool."""
        self.conn = conn
        if pool_dir is None:
            self.pool = call(lambda: conn.storagePoolLookupByName(pool_name), fallback=STORAGE_ERROR)
        else:
            self.pool = call(lambda: _ensure_pool(conn, pool_name, pool_dir), fallback=STORAGE_ERROR)
        self.name = pool_name

    # -- looking -----------------------------------------------------------------------------------

    def volume(self, name: str, pool: str | None = None) -> libvirt.virStorageVol | None:
        """The volume `name` of this pool (or of the pool named), None if there is none."""
        try:
            source = self.pool if pool is None else self.conn.storagePoolLookupByName(pool)
            return source.storageVolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_STORAGE_POOL):
                return None
            raise translate_error(exc, fallback="storage_error") from exc

    def sha256_of(self, volume: libvirt.virStorageVol, on_progress: Progress | None = None) -> str:
        """The sha256 of a volume's bytes, read back through libvirt."""
        size = call(lambda: volume.infoFlags(libvirt.VIR_STORAGE_VOL_GET_PHYSICAL)[2], fallback=STORAGE_ERROR)
        digest = hashlib.sha256()
        stream = call(lambda: self.conn.newStream(0), fallback=STORAGE_ERROR)
        done = 0

        def take(_stream: libvirt.virStream, data: bytes, _opaque: object) -> int:
            nonlocal done
            digest.update(data)
            done += len(data)
            if on_progress is not None:
                on_progress(done, size)
            return 0

        try:
            volume.download(stream, 0, size, 0)
            stream.recvAll(take, None)
            stream.finish()
        except libvirt.libvirtError as exc:
            _abort(stream)
            raise translate_error(exc, fallback=STORAGE_ERROR) from exc
        return digest.hexdigest()

    # -- making ------------------------------------------------------------------------------------

    def upload(self, name: str, source: BinaryIO, size: int, made: Made,
               on_progress: Progress | None = None) -> libvirt.virStorageVol:
        """A new volume `name` holding `size` bytes read from `source`."""
        self.refresh()
        available = call(self.pool.info, fallback=STORAGE_ERROR)[3]
        if size > available:
            raise HypervisorError(POOL_FULL, f"Pool {self.name!r} has {available} bytes free, fewer than the "
                                             f"{size} bytes of {name!r}.")
        volume = self._create(_volume_xml(name, size, "raw"), made)
        stream = call(lambda: self.conn.newStream(0), fallback=STORAGE_ERROR)
        sent = 0

        def give(_stream: libvirt.virStream, nbytes: int, _opaque: object) -> bytes:
            nonlocal sent
            data = source.read(min(nbytes, STREAM_CHUNK))
            sent += len(data)
            if on_progress is not None:
                on_progress(sent, size)
            return data

        try:
            volume.upload(stream, 0, size, 0)
            stream.sendAll(give, None)
            stream.finish()
        except libvirt.libvirtError as exc:
            _abort(stream)
            raise _storage_error(exc, name) from exc
        self.refresh()  # a dir pool probes the file again: a qcow2 uploaded as bytes is seen as qcow2
        return volume

    def overlay(self, name: str, base: libvirt.virStorageVol, base_format: str, capacity: int,
                made: Made) -> libvirt.virStorageVol:
        """A qcow2 volume backed by `base` (whose format is named, so QEMU never guesses it)."""
        root = _volume_xml(name, capacity, "qcow2")
        backing = ET.SubElement(root, "backingStore")
        ET.SubElement(backing, "path").text = call(base.path, fallback=STORAGE_ERROR)
        ET.SubElement(backing, "format", type=base_format)
        return self._create(root, made)

    def copy(self, name: str, base: libvirt.virStorageVol, capacity: int, made: Made,
             fmt: str = "qcow2") -> libvirt.virStorageVol:
        """A volume (qcow2 unless `fmt` says) holding a full copy of `base` — its whole backing chain, flattened
        — grown to `capacity` bytes."""
        try:
            volume = self.pool.createXMLFrom(ET.tostring(_volume_xml(name, capacity, fmt), encoding="unicode"),
                                             base, 0)
        except libvirt.libvirtError as exc:
            raise _storage_error(exc, name) from exc
        made.volumes.append(volume)
        if call(volume.info, fallback=STORAGE_ERROR)[1] < capacity:
            try:
                volume.resize(capacity, 0)
            except libvirt.libvirtError as exc:
                raise _storage_error(exc, name) from exc
        return volume

    def blank(self, name: str, capacity: int, made: Made) -> libvirt.virStorageVol:
        return self._create(_volume_xml(name, capacity, "qcow2"), made)

    def capacity(self, volume: libvirt.virStorageVol) -> int:
        """The bytes a guest sees (a qcow2's virtual size)."""
        return int(call(volume.info, fallback=STORAGE_ERROR)[1])

    def path(self, volume: libvirt.virStorageVol) -> str:
        return str(call(volume.path, fallback=STORAGE_ERROR))

    def delete(self, volume: libvirt.virStorageVol) -> None:
        call(lambda: volume.delete(0), fallback=STORAGE_ERROR)

    def backing_users(self, volume: libvirt.virStorageVol) -> list[str]:
        """What is backed by `volume`: this pool's volumes whose backing store it is, and domains with it
        anywhere in a disk's chain (a running domain's XML shows the whole chain)."""
        path = self.path(volume)
        users = []
        for other in call(lambda: self.pool.listAllVolumes(0), fallback=STORAGE_ERROR):
            with contextlib.suppress(libvirt.libvirtError):  # deleted meanwhile
                if ET.fromstring(other.XMLDesc(0)).findtext("backingStore/path") == path:
                    users.append(f"volume {other.name()}")
        for domain in call(lambda: self.conn.listAllDomains(0)):
            with contextlib.suppress(libvirt.libvirtError):  # undefined meanwhile
                if any(source.get("file") == path for source in ET.fromstring(domain.XMLDesc(0)).iter("source")):
                    users.append(f"VM {domain.name()}")
        return sorted(users)

    def refresh(self) -> None:
        """Have libvirt look at the pool's files again. libvirt refuses while another volume of the pool is
        being built (another job's disk): tried for a while, then left (it refreshes after uploads itself)."""
        for attempt in range(REFRESH_ATTEMPTS):
            try:
                self.pool.refresh(0)
                return
            except libvirt.libvirtError as exc:
                if "asynchronous jobs" not in (exc.get_error_message() or ""):
                    raise translate_error(exc, fallback=STORAGE_ERROR) from exc
                if attempt + 1 < REFRESH_ATTEMPTS:
                    time.sleep(REFRESH_PAUSE)
        log.warning("pool not refreshed: other volumes of it are being built pool=%s", self.name)

    def _create(self, root: ET.Element, made: Made) -> libvirt.virStorageVol:
        name = root.findtext("name") or "?"
        try:
            volume = self.pool.createXML(ET.tostring(root, encoding="unicode"), 0)
        except libvirt.libvirtError as exc:
            raise _storage_error(exc, name) from exc
        made.volumes.append(volume)
        return volume


# -- domains -------------------------------------------------------------------------------------------

def lookup(conn: libvirt.virConnect, name: str) -> libvirt.virDomain | None:
    """The domain called `name`, or None."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise translate_error(exc, repr(name)) from exc


def by_uuid(conn: libvirt.virConnect, vm_uuid: str) -> libvirt.virDomain:
    """The domain with this UUID; HypervisorError(vm_not_found) if there is none."""
    return call(lambda: conn.lookupByUUIDString(vm_uuid), vm_uuid)


def inactive_xml(domain: libvirt.virDomain) -> str:
    """The domain's persistent definition, as it would start next time."""
    return str(call(lambda: domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))


def made_by(domain: libvirt.virDomain) -> str | None:
    """The job id that made the domain (vm.deploy, vm.clone), as its metadata (METADATA_NS) says, or None."""
    try:
        element = ET.fromstring(domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0))
    except (libvirt.libvirtError, ET.ParseError):
        return None
    return element.get("job_id")


def virt_type(domain: libvirt.virDomain) -> str:
    return ET.fromstring(call(lambda: domain.XMLDesc(0))).get("type") or "?"


def running(domain: libvirt.virDomain) -> bool:
    return bool(call(domain.isActive))


def start(domain: libvirt.virDomain) -> None:
    call(domain.create)


def kvm_usable(conn: libvirt.virConnect) -> bool:
    return kvm_offered(ET.fromstring(call(conn.getCapabilities)))


def define(conn: libvirt.virConnect, domain_xml: ET.Element, made: Made) -> libvirt.virDomain:
    try:
        made.domain = conn.defineXML(ET.tostring(domain_xml, encoding="unicode"))
    except libvirt.libvirtError as exc:
        raise HypervisorError(DEFINE_FAILED, f"libvirt refused the VM's definition: {exc.get_error_message()}") \
            from exc
    return made.domain


def start_paused(domain: libvirt.virDomain) -> None:
    """Start the domain with its CPUs paused, so a console opened now misses none of its output."""
    try:
        domain.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    except libvirt.libvirtError as exc:
        message = exc.get_error_message()
        if usernet.BIND_FAILED in message:
            raise HypervisorError(HOST_PORT_IN_USE, "The VM did not start: a port it forwards from the host is in "
                                                    f"use (or not an address of this host): {message}") from exc
        raise HypervisorError(DEFINE_FAILED, f"The VM was defined but did not start: {message}") from exc


def resume(domain: libvirt.virDomain) -> None:
    call(domain.resume)


def addresses(domain: libvirt.virDomain) -> list[str]:
    """The VM's IP addresses (vm.detail's, as plain strings; loopback and link-local left out)."""
    found: list[str] = []
    for entry in detail.addresses(domain):
        value = str(entry["address"])
        if value not in found and not value.startswith(("127.", "::1", "fe80:")):
            found.append(value)
    return found


def remove(made: Made) -> list[str]:
    """Undo a failed deployment: the domain (stopped, undefined with its NVRAM), then its volumes. Never
    raises; what could not be removed is logged and named."""
    left: list[str] = []
    if made.domain is not None:
        domain = made.domain
        with contextlib.suppress(libvirt.libvirtError):  # not running
            domain.destroy()
        try:
            domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                 | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                log.error("deploy cleanup: domain not undefined error=%s", exc.get_error_message())
                left.append("domain")
        made.domain = None
    for volume in reversed(made.volumes):
        try:
            volume.delete(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                log.error("deploy cleanup: volume not deleted error=%s", exc.get_error_message())
                left.append("volume")
    made.volumes.clear()
    return left


# -- helpers -------------------------------------------------------------------------------------------

_pool_lock = threading.Lock()


def _ensure_pool(conn: libvirt.virConnect, name: str, directory: Path) -> libvirt.virStoragePool:
    """The pool `name`, defined as a dir pool over `directory` (and built, started, autostarted) if missing."""
    with _pool_lock:
        try:
            pool = conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            root = ET.Element("pool", type="dir")
            ET.SubElement(root, "name").text = name
            ET.SubElement(ET.SubElement(root, "target"), "path").text = str(directory)
            pool = conn.storagePoolDefineXML(ET.tostring(root, encoding="unicode"), 0)
            pool.build(0)
            pool.setAutostart(1)
            log.info("storage pool defined pool=%s path=%s", name, directory)
        if not pool.isActive():
            pool.create(0)
        return pool


def _volume_xml(name: str, capacity: int, fmt: str) -> ET.Element:
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(capacity)
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", type=fmt)
    return root


def _storage_error(exc: libvirt.libvirtError, name: str) -> HypervisorError:
    message = exc.get_error_message() or str(exc)
    if any(words in message.lower() for words in NO_SPACE_WORDS):
        return HypervisorError(POOL_FULL, f"No room for volume {name!r}: {message}")
    return translate_error(exc, repr(name), fallback="storage_error")


def _abort(stream: libvirt.virStream) -> None:
    with contextlib.suppress(libvirt.libvirtError):
        stream.abort()


@contextlib.contextmanager
def undone_on_failure(made: Made) -> Iterator[Made]:
    """Run a deployment's steps; any exception removes what they made before it propagates."""
    try:
        yield made
    except BaseException:
        left = remove(made)
        if left:
            log.error("deploy cleanup left %s behind", ", ".join(left))
        raise
