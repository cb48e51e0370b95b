"""vm.deploy: a new VM from an image (or an installer ISO), its seed media, its first boot watched.

The interface with the control plane is the deploy contract (issue 16); this
docstring is where the agent side refines it.

Arguments (`OPS["vm.deploy"]`, strict: every key typed and bounded, nothing
else accepted):

    name          libvirt name, 1-64 of [A-Za-z0-9._-] starting with a letter or digit
    vcpus         1..256          memory_mib   64..4194304
    firmware      "bios"|"uefi"   secure_boot  bool (needs uefi and q35)   tpm  bool
    machine       "q35"|"pc"      disk_bus     "virtio"|"sata"   nic_model  "virtio"|"e1000e"
    network       a libvirt network name (as `name`), or {"mode": "user", "forwards": 0..8 of
                  {"address": IPv4 literal, "host_port": 1..65535, "guest_port": 1..65535}}:
                  QEMU's user-mode NIC with TCP forwards from the host (hypervisor/usernet.py)
    disk          {"size_gib": 1..65536, "mode": "overlay"|"copy",
                   "source": {"url", "sha256", "format": "qcow2"|"raw", "max_bytes": 1..2^40}}
                  or {"size_gib": ..., "mode": "blank"}
    cdroms        0..4 of {"source": {"url", "sha256", "max_bytes"}}
                          {"source": {"pool", "volume", "sha256"}}
                          {"generated": {"label": 1-32 of [A-Za-z0-9_], "files": 1..8 names → text}}
                  (a file name is 1-64 of [A-Za-z0-9._-]; a file's text at most 48 KiB)
    boot          1..4 of "hd"|"cdrom"|"network"
    first_boot    {"marker": 1-64 of [A-Z0-9_-], "timeout_seconds": 1..86400} or null
    url           http(s)://, at most 2048 characters, no whitespace; sha256 64 lowercase hex

What the agent does, in order, reporting each step as progress on its lease
calls (progress.py):

1. Refuses a name already taken by a domain, or by a volume it would create
   in its pool (`<name>.qcow2`, `<name>-seed<i>.iso`): `name_taken`, nothing
   made.
2. downloading / verifying: each URL source is taken from the agent's pool if
   a volume `fv-image-<sha256>.<qcow2|raw|iso>` is there and its bytes still
   hash to the sha256 (`image_cache: "hit"`), else fetched (images.py),
   checked (`checksum_mismatch`, `not_a_disk_image`, `image_too_large`,
   `source_refused`, `download_failed`) and uploaded into the pool, where it
   stays for the next deployment. A cached volume that no longer hashes
   right (an upload cut short) is fetched again, unless something is backed
   by it: then `checksum_mismatch` names what, and nothing is deleted. A pool
   volume named by a cdrom is hashed too. One lock per checksum: two jobs
   never fetch the same image at once. A download cut short stays in the
   state dir's `downloads/` and the next attempt resumes it.
3. creating_disk: `<name>.qcow2`, a qcow2 overlay on the cached image (its
   format named), a full qcow2 copy, or blank; its size is size_gib, or the
   image's own if that is larger (disks only grow). `pool_full` when the pool
   has no room. Generated media are packed (seed.py) into `<name>-seed<i>.iso`.
4. defining: the domain XML (`domain_xml`): kvm when libvirt offers it (or
   as FLEETVISOR_AGENT_DEPLOY_VIRT_TYPE says), OVMF from Debian's ovmf package
   for uefi (the Secure Boot build with Microsoft's keys enrolled, and SMM,
   for secure_boot), a TPM 2.0 emulator (swtpm) for tpm, a pty serial console,
   a guest-agent channel, VNC on 127.0.0.1. `define_failed` if libvirt refuses.
5. booting: started paused, its console opened, then resumed, so the watcher
   misses nothing the guest prints; `host_port_in_use` when a user-mode NIC's forward
   cannot listen (its port is taken).
6. first_boot: the console is read for the marker lines (firstboot.py) until
   `done` or the timeout; the VM's addresses come from its network's DHCP
   leases or its guest agent.

A failure in steps 1-5, and a cancel or time-out before step 5 (`job.cancelled`),
removes what this job made (domain with its NVRAM, disk, seed ISOs), never
the cached images. Exit code 1 for every contract error except a transient
`download_failed` (a network error, HTTP 5xx or 429) and `hypervisor_unavailable`
(2). Secure Boot without uefi and q35 is `define_failed` before anything is made.
First boot is reported, not judged: a VM whose installers failed or whose
runner never said `done` is a deployed VM (exit 0) with `first_boot:
"timed_out"` and the installers' exit codes; the control plane decides what to
make of them.

The domain's metadata carries the job id (`<deploy job_id=…>` in
urn:fleetvisor:deploy:1). A later attempt of the same job that finds a VM of
that name made by this job (the earlier attempt's report was lost) reports it,
started if it was not, with `already_done: true` and its first boot not
watched again; any other VM of that name is `name_taken`.

Result `data`, besides the contract's keys: `virt_type` ("kvm"/"qemu"), and
`already_done` on such a retry. On failure `data` is `{"timeline_ms"}` so far.
"""

from __future__ import annotations

import io
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .. import firstboot, images, seed
from ..config import DeploySettings
from ..hypervisor import provision, usernet
from ..hypervisor.console import SerialConsole
from ..hypervisor.errors import HypervisorError
from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..images import SourceError
from ..verify import VerifiedJob
from .base import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_TRANSIENT,
    AnyOf,
    ArgsSchema,
    Document,
    Flag,
    IntRange,
    Ipv4Address,
    ListOf,
    MapOf,
    Nullable,
    Pattern,
    Result,
    build_result,
    ms_since,
    one_of,
)

log = logging.getLogger(__name__)

NAME = Pattern(re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"))
SHA256 = Pattern(re.compile(r"[0-9a-f]{64}"))
URL = Pattern(re.compile(r"https?://\S{1,2040}"))
MAX_IMAGE_BYTES = 2**40
FILE_NAME = Pattern(re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"))
MAX_FILE_CHARS = 48 * 1024

URL_IMAGE = ArgsSchema({"url": URL, "sha256": SHA256, "format": one_of("qcow2", "raw"),
                        "max_bytes": IntRange(1, MAX_IMAGE_BYTES)})
URL_ISO = ArgsSchema({"url": URL, "sha256": SHA256, "max_bytes": IntRange(1, MAX_IMAGE_BYTES)})
POOL_ISO = ArgsSchema({"pool": NAME, "volume": NAME, "sha256": SHA256})
GENERATED = ArgsSchema({"label": Pattern(re.compile(r"[A-Za-z0-9_]{1,32}")),
                        "files": MapOf(FILE_NAME, Document(MAX_FILE_CHARS), 1, 8)})
SIZE_GIB = IntRange(1, 65536)
PORT = IntRange(1, 65535)
USER_NETWORK = ArgsSchema({"mode": one_of("user"), "forwards": ListOf(ArgsSchema({
    "address": Ipv4Address(), "host_port": PORT, "guest_port": PORT}), 0, 8)})

OPS: Mapping[str, ArgsSchema] = {
    "vm.deploy": ArgsSchema({
        "name": NAME,
        "vcpus": IntRange(1, 256),
        "memory_mib": IntRange(64, 4 * 1024 * 1024),
        "firmware": one_of("bios", "uefi"),
        "secure_boot": Flag(),
        "tpm": Flag(),
        "machine": one_of("q35", "pc"),
        "disk_bus": one_of("virtio", "sata"),
        "nic_model": one_of("virtio", "e1000e"),
        "network": AnyOf((NAME, USER_NETWORK)),
        "disk": AnyOf((ArgsSchema({"size_gib": SIZE_GIB, "mode": one_of("overlay", "copy"), "source": URL_IMAGE}),
                       ArgsSchema({"size_gib": SIZE_GIB, "mode": one_of("blank")}))),
        "cdroms": ListOf(AnyOf((ArgsSchema({"source": AnyOf((URL_ISO, POOL_ISO))}),
                                ArgsSchema({"generated": GENERATED}))), 0, 4),
        "boot": ListOf(one_of("hd", "cdrom", "network"), 1, 4),
        "first_boot": Nullable(ArgsSchema({"marker": Pattern(re.compile(r"[A-Z0-9][A-Z0-9_-]{0,63}")),
                                           "timeout_seconds": IntRange(1, 86400)})),
    }),
}

NAME_TAKEN = "name_taken"
CANCELLED = "cancelled"
DEFINE_FAILED = "define_failed"
GIB = 1024**3
# Debian's ovmf package (bookworm and later): the 4 MiB builds libvirt's own firmware descriptors point at.
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
OVMF_SECURE_CODE = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
OVMF_SECURE_VARS = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"  # Microsoft's keys enrolled: Windows and shim boot
ADDRESS_WAIT = 10.0  # after `done`, how long the VM's address may take to show in the leases
INVALID_CODES = frozenset({NAME_TAKEN, DEFINE_FAILED, images.CHECKSUM_MISMATCH, images.NOT_A_DISK_IMAGE,
                           images.SOURCE_REFUSED, images.IMAGE_TOO_LARGE, provision.POOL_FULL,
                           provision.HOST_PORT_IN_USE})


def handle(job: VerifiedJob, host: Host) -> Result:
    started = time.monotonic()
    deployment = Deployment(job, host)
    try:
        data, vm = deployment.run()
    except (HypervisorError, SourceError) as exc:
        exit_code = EXIT_TRANSIENT if exc.transient and exc.code not in INVALID_CODES else EXIT_INVALID
        return build_result(job, summary=f"{exc.code}: {exc.message}", vm=None,
                            error={"code": exc.code, "message": exc.message}, exit_code=exit_code,
                            duration_ms=ms_since(started), data={"timeline_ms": deployment.timeline})
    return build_result(job, summary=f"{job.op}: {_summary(data)}", vm=vm, error=None, data=data,
                        exit_code=EXIT_OK, duration_ms=ms_since(started))


@dataclass(frozen=True)
class Media:
    """A CD-ROM of the new VM: a pool volume's path, and whether it is read-only shared media."""

    path: str
    format: str = "raw"


@dataclass
class Deployment:
    job: VerifiedJob
    host: Host
    timeline: dict[str, int] = field(default_factory=dict)
    cache: list[str] = field(default_factory=list)  # "hit" or "miss" per URL source
    image_size: int = 0  # the disk image's virtual size, as its own bytes say (when fetched by this job)

    @property
    def args(self) -> Mapping[str, Any]:
        return self.job.args

    @property
    def settings(self) -> DeploySettings:
        return self.host.deploy

    def run(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        args = self.args
        name = str(args["name"])
        if args["secure_boot"] and (args["firmware"] != "uefi" or args["machine"] != "q35"):
            raise HypervisorError(DEFINE_FAILED, "Secure Boot needs firmware 'uefi' and machine 'q35'.")
        conn = self.host.connection()
        storage = provision.Storage(conn, self.settings.pool, self.settings.pool_dir)
        disk_name = f"{name}.qcow2"
        seed_names = [f"{name}-seed{index}.iso" for index, cdrom in enumerate(args["cdroms"]) if "generated" in cdrom]
        existing = provision.lookup(conn, name)
        if existing is not None and self.job.attempt > 1 and provision.made_by(existing) == self.job.job_id:
            return self._already_done(existing)
        self._refuse_taken(conn, storage, name, existing, [disk_name, *seed_names])
        made = provision.Made()
        with provision.undone_on_failure(made):
            sources = self._sources(storage)
            disk, cdroms = self._disks(storage, disk_name, sources, made)
            with self._step("define", "defining"):
                virt_type = self._virt_type(conn)
                domain = provision.define(conn, domain_xml(args, disk, cdroms, virt_type, self.job.job_id), made)
            console = self._boot(domain)
        watched = self._first_boot(console)
        if console is not None:
            console.close()
        guest = Guest(domain)
        data = {"vm_uuid": guest.uuid, "name": name, "addresses": self._addresses(domain, watched.status),
                "forwards": usernet.forwards(provision.inactive_xml(domain)),
                "image_cache": "miss" if "miss" in self.cache else "hit",
                "timeline_ms": self.timeline, "installers": [item.as_dict() for item in watched.installers],
                "first_boot": watched.status, "virt_type": virt_type}
        self.job.progress.report("done")
        try:
            vm: dict[str, Any] | None = guest.inventory_entry()
        except HypervisorError:
            vm = None
        return data, vm

    # -- steps -------------------------------------------------------------------------------------

    def _already_done(self, domain: provision.Domain) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A later attempt finds the VM an earlier attempt of this job made (its lease lapsed, the agent
        restarted): it is reported, started if it was not, and its first boot is not watched again."""
        guest = Guest(domain)
        if not provision.running(domain):
            with self._step("boot", "booting"):
                provision.start(domain)
        data = {"vm_uuid": guest.uuid, "name": guest.name, "addresses": provision.addresses(domain),
                "image_cache": "hit", "timeline_ms": self.timeline, "installers": [], "first_boot": "not_watched",
                "virt_type": provision.virt_type(domain), "already_done": True}
        self.job.progress.report("done")
        return data, guest.inventory_entry()

    def _refuse_taken(self, conn: provision.Connection, storage: provision.Storage, name: str,
                      existing: provision.Domain | None, volumes: list[str]) -> None:
        if existing is not None:
            raise HypervisorError(NAME_TAKEN, f"A VM named {name!r} exists on this host already.")
        for volume in volumes:
            if storage.volume(volume) is not None:
                raise HypervisorError(NAME_TAKEN, f"Pool {storage.name!r} has a volume {volume!r} already (left "
                                                  f"by an earlier VM named {name!r}?); delete it or pick another "
                                                  "name.")

    def _sources(self, storage: provision.Storage) -> dict[int, provision.Volume]:
        """Every source volume, by position: -1 the disk's image, 0.. the cdroms'."""
        found: dict[int, provision.Volume] = {}
        disk = self.args["disk"]
        if disk["mode"] != "blank":
            found[-1] = self._cached(storage, disk["source"], disk["source"]["format"])
        for index, cdrom in enumerate(self.args["cdroms"]):
            source = cdrom.get("source")
            if source is None:
                continue
            if "url" in source:
                found[index] = self._cached(storage, source, "iso")
            else:
                found[index] = self._pool_volume(storage, source)
        return found

    def _cached(self, storage: provision.Storage, source: Mapping[str, Any], kind: str) -> provision.Volume:
        """The verified pool volume holding `source`: from the cache, or fetched into it."""
        sha256 = str(source["sha256"])
        name = f"fv-image-{sha256}.{kind}"
        with images.checksum_lock(sha256):
            volume = storage.volume(name)
            if volume is not None:
                with self._step("verify", "verifying", f"cached {name}"):
                    if storage.sha256_of(volume, self._percent("verifying")) == sha256:
                        self.cache.append("hit")
                        return volume
                self._drop_changed(storage, volume, name)
            self.cache.append("miss")
            return self._fetch(storage, source, name, kind)

    def _drop_changed(self, storage: provision.Storage, volume: provision.Volume, name: str) -> None:
        """A cached image whose bytes no longer hash to its name: half-uploaded by an agent that died, or
        changed since. Deleted to be fetched again, unless a VM's disk is backed by it: deleting it would
        break that VM, so the deployment fails and the operator decides."""
        users = storage.backing_users(volume)
        if users:
            raise SourceError(images.CHECKSUM_MISMATCH, f"The cached image {name} no longer has its sha256, and "
                                                        f"is the backing file of: {', '.join(users)}.")
        log.warning("cached image changed or incomplete, fetching it again volume=%s", name)
        storage.delete(volume)

    def _fetch(self, storage: provision.Storage, source: Mapping[str, Any], name: str,
               kind: str) -> provision.Volume:
        url, sha256 = str(source["url"]), str(source["sha256"])
        with self._step("download", "downloading", url[:120]):
            fetched = images.fetch(url, sha256, int(source["max_bytes"]), self.settings.download_dir,
                                   self.settings.allowed_sources, cancelled=self.job.cancelled,
                                   on_progress=self._percent("downloading"))
        try:
            with self._step("verify", "verifying"):
                self.timeline["verify"] = self.timeline.get("verify", 0) + fetched.verify_ms
                info = images.sniff(fetched.path)
                if info.format != kind and not (kind == "raw" and info.format == "iso"):
                    raise SourceError(images.NOT_A_DISK_IMAGE, f"{url} is {info.format}, not the {kind} the job "
                                                               "says it is.")
                if kind != "iso":
                    self.image_size = info.virtual_size
            with self._step("disk", "creating_disk", f"caching {name}"), fetched.path.open("rb") as data:
                made = provision.Made()
                with provision.undone_on_failure(made):  # a half-uploaded cache volume never stays
                    return storage.upload(name, data, fetched.size, made, self._percent("creating_disk"))
        finally:
            fetched.path.unlink(missing_ok=True)

    def _pool_volume(self, storage: provision.Storage, source: Mapping[str, Any]) -> provision.Volume:
        label = f"{source['pool']}/{source['volume']}"
        volume = storage.volume(str(source["volume"]), str(source["pool"]))
        if volume is None:
            raise HypervisorError("storage_error", f"No volume {label} on this host.")
        with self._step("verify", "verifying", label):
            if storage.sha256_of(volume, self._percent("verifying")) != source["sha256"]:
                raise SourceError(images.CHECKSUM_MISMATCH, f"Volume {label} does not have the sha256 the job "
                                                            "names.")
        return volume

    def _disks(self, storage: provision.Storage, disk_name: str, sources: dict[int, provision.Volume],
               made: provision.Made) -> tuple[Media, list[Media]]:
        disk = self.args["disk"]
        with self._step("disk", "creating_disk", disk_name):
            wanted = int(disk["size_gib"]) * GIB
            if disk["mode"] == "blank":
                volume = storage.blank(disk_name, wanted, made)
            else:
                base = sources[-1]
                capacity = max(wanted, storage.capacity(base), self.image_size)  # disks only grow
                if disk["mode"] == "overlay":
                    volume = storage.overlay(disk_name, base, str(disk["source"]["format"]), capacity, made)
                else:
                    volume = storage.copy(disk_name, base, capacity, made)
            cdroms = []
            for index, cdrom in enumerate(self.args["cdroms"]):
                if "generated" in cdrom:
                    generated = cdrom["generated"]
                    image = seed.pack(str(generated["label"]), generated["files"])
                    sources[index] = storage.upload(f"{disk_name.removesuffix('.qcow2')}-seed{index}.iso",
                                                    io.BytesIO(image), len(image), made)
                cdroms.append(Media(storage.path(sources[index])))
        return Media(storage.path(volume), "qcow2"), cdroms

    def _virt_type(self, conn: provision.Connection) -> str:
        if self.settings.virt_type != "auto":
            return self.settings.virt_type
        return "kvm" if provision.kvm_usable(conn) else "qemu"

    def _boot(self, domain: provision.Domain) -> SerialConsole | None:
        """Start the VM; its console, opened while its CPUs wait, if first boot is watched."""
        with self._step("boot", "booting"):
            provision.start_paused(domain)
            console = None
            if self.args["first_boot"] is not None:
                try:
                    console = Guest(domain).open_console()
                except HypervisorError as exc:
                    log.warning("first boot not watched: console error=%s", exc.message)
            provision.resume(domain)
        return console

    def _first_boot(self, console: SerialConsole | None) -> firstboot.FirstBoot:
        watch = self.args["first_boot"]
        if watch is None or console is None:
            return firstboot.FirstBoot("not_watched")
        self.job.progress.report("first_boot", detail="waiting for the first-boot runner")

        def finished(installer: firstboot.Installer) -> None:
            meaning = firstboot.MEANINGS.get(installer.exit or 0, "unknown")
            self.job.progress.report("first_boot", detail=f"installer {installer.id}: {meaning}")

        started = time.monotonic()
        result = firstboot.watch(console, str(watch["marker"]), float(watch["timeout_seconds"]),
                                 self.job.cancelled, finished)
        self.timeline["first_boot"] = ms_since(started)
        return result

    def _addresses(self, domain: provision.Domain, status: str) -> list[str]:
        # A user-mode NIC's address is QEMU's private 10.0.2.15, in no lease: only a guest agent could tell it,
        # and it would be of no use from outside (the forwards are), so it is not waited for.
        bridged = isinstance(self.args["network"], str)
        deadline = time.monotonic() + (ADDRESS_WAIT if status == "done" and bridged else 0)
        while True:
            found = provision.addresses(domain)
            if found or time.monotonic() >= deadline or self.job.cancelled.wait(0.5):
                return found

    # -- helpers -----------------------------------------------------------------------------------

    @contextmanager
    def _step(self, timeline: str, step: str, detail: str | None = None) -> Iterator[None]:
        """Report `step` as progress and add its duration to the timeline's `timeline` entry. A job cancelled
        (or timed out) before the VM runs goes no further, and what it made is removed."""
        if self.job.cancelled.is_set():
            raise HypervisorError(CANCELLED, "The deployment was cancelled before the VM started; what it had "
                                             "made was removed.")
        self.job.progress.report(step, detail=detail)
        started = time.monotonic()
        try:
            yield
        finally:
            self.timeline[timeline] = self.timeline.get(timeline, 0) + ms_since(started)

    def _percent(self, step: str) -> Callable[[int, int | None], None]:
        def report(done: int, total: int | None) -> None:
            if total:
                self.job.progress.report(step, percent=done * 100 // total)

        return report


# -- the domain ------------------------------------------------------------------------------------

def domain_xml(args: Mapping[str, Any], disk: Media, cdroms: list[Media], virt_type: str,
               job_id: str) -> ET.Element:
    """The new VM's libvirt definition, from the job's arguments and the volumes made for it; its metadata
    names the job, so a later attempt of the same job knows the VM for its own."""
    domain = ET.Element("domain", type=virt_type)
    ET.SubElement(domain, "name").text = str(args["name"])
    ET.SubElement(domain, "memory", unit="MiB").text = str(args["memory_mib"])
    ET.SubElement(domain, "vcpu").text = str(args["vcpus"])
    _os(domain, args)
    features = ET.SubElement(domain, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    if args["secure_boot"]:
        ET.SubElement(features, "smm", state="on")
    if virt_type == "kvm":
        ET.SubElement(domain, "cpu", mode="host-passthrough")
    ET.SubElement(domain, "clock", offset="utc")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")):
        ET.SubElement(domain, event).text = action
    devices = ET.SubElement(domain, "devices")
    targets = _Targets()
    _disk(devices, "disk", disk, str(args["disk_bus"]), targets)
    cdrom_bus = "sata" if args["machine"] == "q35" else "ide"
    for media in cdroms:
        _disk(devices, "cdrom", media, cdrom_bus, targets)
    network = args["network"]
    if isinstance(network, str):
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "source", network=network)
        ET.SubElement(nic, "model", type=str(args["nic_model"]))
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    ET.SubElement(ET.SubElement(devices, "console", type="pty"), "target", type="serial", port="0")
    channel = ET.SubElement(devices, "channel", type="unix")
    ET.SubElement(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    if args["tpm"]:
        tpm = ET.SubElement(devices, "tpm", model="tpm-crb")
        ET.SubElement(tpm, "backend", type="emulator", version="2.0")
    graphics = ET.SubElement(devices, "graphics", type="vnc", port="-1", autoport="yes")
    ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
    ET.SubElement(ET.SubElement(devices, "video"), "model", type="virtio" if args["machine"] == "q35" else "vga")
    ET.SubElement(ET.SubElement(devices, "rng", model="virtio"), "backend", model="random").text = "/dev/urandom"
    ET.SubElement(devices, "memballoon", model="virtio")
    if not isinstance(network, str):
        usernet.add(domain, str(args["machine"]), str(args["nic_model"]), network["forwards"])
    return with_metadata(domain, job_id)


def with_metadata(domain: ET.Element, job_id: str) -> ET.Element:
    """`domain` with the job that made it in its metadata (replacing what an earlier job wrote there)."""
    metadata = domain.find("metadata")
    if metadata is None:
        metadata = ET.SubElement(domain, "metadata")
    tag = f"{{{provision.METADATA_NS}}}deploy"
    for old in metadata.findall(tag):
        metadata.remove(old)
    ET.SubElement(metadata, tag, job_id=job_id)
    return domain


def _os(domain: ET.Element, args: Mapping[str, Any]) -> None:
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine=str(args["machine"])).text = "hvm"
    if args["firmware"] == "uefi":
        secure = bool(args["secure_boot"])
        ET.SubElement(os_, "loader", readonly="yes", type="pflash",
                      secure="yes" if secure else "no").text = OVMF_SECURE_CODE if secure else OVMF_CODE
        ET.SubElement(os_, "nvram", template=OVMF_SECURE_VARS if secure else OVMF_VARS)
    for device in args["boot"]:
        ET.SubElement(os_, "boot", dev=str(device))


class _Targets:
    """Device names per bus: vda, vdb… for virtio, sda… for sata, hda… for ide."""

    PREFIX: Mapping[str, str] = {"virtio": "vd", "sata": "sd", "ide": "hd"}

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def next(self, bus: str) -> str:
        index = self._used.get(bus, 0)
        self._used[bus] = index + 1
        return self.PREFIX[bus] + "abcdefghijklmnopqrstuvwxyz"[index]


def _disk(devices: ET.Element, device: str, media: Media, bus: str, targets: _Targets) -> None:
    disk = ET.SubElement(devices, "disk", type="file", device=device)
    ET.SubElement(disk, "driver", name="qemu", type=media.format)
    ET.SubElement(disk, "source", file=media.path)
    ET.SubElement(disk, "target", dev=targets.next(bus), bus=bus)
    if device == "cdrom":
        ET.SubElement(disk, "readonly")


def _summary(data: Mapping[str, Any]) -> str:
    failed = [item["id"] for item in data["installers"] if item["exit"] not in (0, None)]
    parts = [f"VM {data['name']!r} deployed ({data['virt_type']}, image cache {data['image_cache']})",
             f"first boot {data['first_boot'].replace('_', ' ')}"]
    if failed:
        parts.append(f"installers failed: {', '.join(failed)}")
    if data["addresses"]:
        parts.append(f"addresses {', '.join(data['addresses'])}")
    if data.get("forwards"):
        parts.append(f"forwards {', '.join(data['forwards'])}")
    return "; ".join(parts) + "."

