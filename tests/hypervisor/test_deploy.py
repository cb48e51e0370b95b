"""vm.deploy on real libvirtd + QEMU: images served from loopback (allowed by the host's allowed_sources),
cached in a pool the agent creates itself, overlay and copy disks, seed ISOs read back with pycdlib, the
domain's XML, name_taken making nothing, a failure half-way leaving nothing, and the first-boot watcher
reading the busybox guest's serial console.

Guests boot no OS (the disk is an empty qcow2: SeaBIOS finds nothing to boot and waits), which is all
these tests need: the VM is defined and running with its media attached. Domain type is qemu (the
host's FLEETVISOR_AGENT_DEPLOY_VIRT_TYPE), as everywhere in these tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import secrets
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pycdlib
import pytest
from chalicelib.deployments import manifests, plan, unattend
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent import firstboot, jobs, seed
from fleetvisor_agent.config import DeploySettings
from fleetvisor_agent.hypervisor.host import Host
from fleetvisor_agent.verify import VerifiedJob

from infra.local import free_port
from tests.agent.conftest import VECTORS_PATH
from tests.agent.fake_control_plane import FakeControlPlane, running
from tests.agent.image_server import ImageServer, serving
from tests.agent.test_runner import completions, config_for, start
from tests.conftest import wait_until

from .guest import BASE, URI, Image, QemuGuest, boot_iso, virsh, virsh_fields

POOL = "fleetvisor-deploy-test"
POOL_DIR = BASE / "deploy-pool"
USER_DATA = "#cloud-config\nhostname: web-1\nusers:\n  - name: ops\n    passwd: $6$salt$hash\n"
META_DATA = "instance-id: i-web-1\nlocal-hostname: web-1\n"


@pytest.fixture(scope="module")
def disk_image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("image") / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True, timeout=60)
    return path.read_bytes()


@pytest.fixture(scope="module")
def server(disk_image: bytes) -> Iterator[ImageServer]:
    with serving(ImageServer(files={"/base.qcow2": disk_image, "/junk.qcow2": b"<html>" * 20000})) as started:
        yield started


@pytest.fixture(scope="module")
def network(host: Host) -> Iterator[str]:
    """libvirt's `default` NAT network, defined (from the libvirt-daemon package's own file) and started for these
    tests if it was not (and stopped again after)."""
    if subprocess.run(["virsh", "-c", URI, "net-info", "default"], capture_output=True, check=False).returncode:
        virsh("net-define", "/usr/share/libvirt/networks/default.xml")
    started = virsh_fields("net-info", "default").get("Active") != "yes"
    if started:
        virsh("net-start", "default")
    yield "default"
    if started:
        virsh("net-destroy", "default", check=False)


@pytest.fixture(scope="module")
def deploy_host(host: Host, server: ImageServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """The agent's view of qemu:///system with its own deploy pool, which it defines itself on first use."""
    _drop_pool()
    qemu = Host(URI, DeploySettings(pool=POOL, pool_dir=POOL_DIR, allowed_sources=(f"{server.url}/",),
                                    download_dir=tmp_path_factory.mktemp("downloads"), virt_type="qemu"))
    yield qemu
    qemu.close()
    _drop_pool()


def _drop_pool() -> None:
    if subprocess.run(["virsh", "-c", URI, "pool-info", POOL], capture_output=True, check=False).returncode == 0:
        for volume in volumes():
            virsh("vol-delete", volume, "--pool", POOL, check=False)
        virsh("pool-destroy", POOL, check=False)
        virsh("pool-delete", POOL, check=False)
        virsh("pool-undefine", POOL, check=False)


def volumes() -> list[str]:
    virsh("pool-refresh", POOL, check=False)
    lines = virsh("vol-list", POOL, check=False).splitlines()
    return sorted(line.split()[0] for line in lines[2:] if line.strip())


def domains() -> list[str]:
    return [line for line in virsh("list", "--all", "--name").splitlines() if line.strip()]


@pytest.fixture
def names() -> Iterator[list[str]]:
    """VM names a test deploys; each is removed afterwards with its disk and seed ISOs, whatever happened."""
    made: list[str] = []
    yield made
    for name in made:
        virsh("destroy", name, check=False)
        virsh("undefine", name, "--nvram", check=False)
    for volume in volumes():
        if any(volume.startswith(f"{name}.") or volume.startswith(f"{name}-seed") for name in made):
            virsh("vol-delete", volume, "--pool", POOL, check=False)


class Recorder:
    """Every progress step a job reports, in order (the lease keeper only ever sends the latest); `cancel_at`
    cancels the job as it reports that step, as the runner does on an operator's cancel or a time-out."""

    def __init__(self, job: VerifiedJob, cancel_at: str | None = None) -> None:
        self.steps: list[str] = []
        report = job.progress.report

        def record(step: str, percent: int | None = None, detail: str | None = None) -> None:
            if not self.steps or self.steps[-1] != step:
                self.steps.append(step)
            if step == cancel_at:
                job.cancelled.set()
            report(step, percent, detail)

        job.progress.report = record  # type: ignore[method-assign]


def deploy(host: Host, names: list[str], *, job_id: str | None = None, attempt: int = 1,
           cancel_at: str | None = None, **overrides: Any) -> tuple[jobs.Result, Recorder]:
    name = overrides.pop("name", None) or f"fv-deploy-{secrets.token_hex(3)}"
    names.append(name)
    args = {"name": name, "vcpus": 1, "memory_mib": 96, "firmware": "bios", "secure_boot": False, "tpm": False,
            "machine": "q35", "disk_bus": "virtio", "nic_model": "virtio", "network": "default",
            "disk": {"size_gib": 1, "mode": "blank"}, "cdroms": [], "boot": ["hd", "cdrom"], "first_boot": None,
            **overrides}
    assert jobs.args_valid("vm.deploy", args), f"vm.deploy {args} would be refused as bad_args"
    job = VerifiedJob(job_id=job_id or f"job_deploy_{secrets.token_hex(3)}", agent_id="ag_qemu", op="vm.deploy",
                      args=args, issued_at=0, expires_at=2**31, attempt=attempt, kid="k")
    recorder = Recorder(job, cancel_at)
    return jobs.run(job, host), recorder


def image_disk(server: ImageServer, image: bytes, mode: str = "overlay", size_gib: int = 2,
               path: str = "/base.qcow2") -> dict[str, Any]:
    return {"size_gib": size_gib, "mode": mode, "source": {"url": f"{server.url}{path}",
                                                           "sha256": hashlib.sha256(image).hexdigest(),
                                                           "format": "qcow2", "max_bytes": len(image) + 1}}


SEED = {"generated": {"label": "cidata", "files": {"user-data": USER_DATA, "meta-data": META_DATA}}}


def qemu_img_info(path: str) -> dict[str, Any]:
    done = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True, text=True,
                          check=True, timeout=60)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_deploy_caches_the_image_makes_an_overlay_and_a_seed_iso_and_starts_the_vm(
        deploy_host: Host, server: ImageServer, disk_image: bytes, network: str, names: list[str]) -> None:
    sha = hashlib.sha256(disk_image).hexdigest()
    server.requests.clear()

    result, recorder = deploy(deploy_host, names, disk=image_disk(server, disk_image), cdroms=[SEED],
                              network=network)

    assert result.ok, result.summary
    data = result.document["data"]
    name = names[0]
    assert (data["name"], data["image_cache"], data["first_boot"], data["virt_type"]) == (
        name, "miss", "not_watched", "qemu")
    assert {"download", "verify", "disk", "define", "boot"} <= set(data["timeline_ms"])
    assert recorder.steps == ["downloading", "verifying", "creating_disk", "defining", "booting", "done"]
    assert result.vm is not None and result.vm["uuid"] == data["vm_uuid"] and result.vm["state"] == "running"
    assert virsh("domstate", name) == "running"
    assert server.gets("/base.qcow2") == [None]
    assert volumes() == sorted([f"fv-image-{sha}.qcow2", f"{name}.qcow2", f"{name}-seed0.iso"])

    overlay = qemu_img_info(str(POOL_DIR / f"{name}.qcow2"))
    assert overlay["format"] == "qcow2" and overlay["virtual-size"] == 2 * 1024**3
    assert overlay["backing-filename"] == str(POOL_DIR / f"fv-image-{sha}.qcow2")
    assert overlay["backing-filename-format"] == "qcow2"

    label, files = seed.read((POOL_DIR / f"{name}-seed0.iso").read_bytes())
    assert (label, files) == ("cidata", {"user-data": USER_DATA, "meta-data": META_DATA})

    xml = ET.fromstring(virsh("dumpxml", name))
    assert xml.get("type") == "qemu"
    assert xml.find("os/type").get("machine", "").startswith("pc-q35")  # type: ignore[union-attr]
    assert [boot.get("dev") for boot in xml.findall("os/boot")] == ["hd", "cdrom"]
    disks = [(d.get("device"), d.find("source").get("file"), d.find("target").get("bus"))  # type: ignore[union-attr]
             for d in xml.findall("devices/disk")]
    assert disks == [("disk", str(POOL_DIR / f"{name}.qcow2"), "virtio"),
                     ("cdrom", str(POOL_DIR / f"{name}-seed0.iso"), "sata")]
    assert xml.find("devices/interface/source").get("network") == "default"  # type: ignore[union-attr]
    assert xml.find("devices/interface/model").get("type") == "virtio"  # type: ignore[union-attr]
    assert xml.find("devices/serial").get("type") == "pty"  # type: ignore[union-attr]
    assert xml.find("devices/tpm") is None and xml.find("os/loader") is None


def test_a_second_deploy_of_the_same_image_downloads_nothing(
        deploy_host: Host, server: ImageServer, disk_image: bytes, network: str, names: list[str]) -> None:
    deploy(deploy_host, names, disk=image_disk(server, disk_image), network=network)
    server.requests.clear()

    result, recorder = deploy(deploy_host, names, disk=image_disk(server, disk_image, mode="copy", size_gib=1),
                              network=network)

    assert result.ok, result.summary
    data = result.document["data"]
    assert data["image_cache"] == "hit" and "download" not in data["timeline_ms"]
    assert server.requests == []
    assert "downloading" not in recorder.steps
    copy = qemu_img_info(str(POOL_DIR / f"{names[1]}.qcow2"))
    assert "backing-filename" not in copy and copy["virtual-size"] == 1024**3  # a full copy, grown to 1 GiB


def test_a_half_uploaded_cached_image_is_fetched_again(
        deploy_host: Host, server: ImageServer, disk_image: bytes, network: str, names: list[str]) -> None:
    cached = f"fv-image-{hashlib.sha256(disk_image).hexdigest()}.qcow2"
    users = [name for name in domains() if name.startswith("fv-deploy-")]
    assert users == [], "an earlier test left a VM behind"
    for volume in volumes():  # earlier tests' VMs are gone: nothing is backed by the cached image
        if volume == cached:
            virsh("vol-delete", volume, "--pool", POOL)
    half = POOL_DIR / "half.qcow2"
    half.write_bytes(disk_image[: len(disk_image) // 2])  # what an agent that died while uploading leaves
    virsh("pool-refresh", POOL)
    virsh("vol-create-as", POOL, cached, "1M")
    virsh("vol-upload", "--pool", POOL, cached, str(half))
    half.unlink()
    server.requests.clear()

    result, _ = deploy(deploy_host, names, disk=image_disk(server, disk_image), network=network)

    assert result.ok and result.document["data"]["image_cache"] == "miss", result.summary
    assert server.gets("/base.qcow2") == [None]


def test_a_changed_cached_image_that_backs_a_vm_is_not_deleted(
        deploy_host: Host, server: ImageServer, disk_image: bytes, network: str, names: list[str]) -> None:
    deploy(deploy_host, names, disk=image_disk(server, disk_image), network=network)
    cached = POOL_DIR / f"fv-image-{hashlib.sha256(disk_image).hexdigest()}.qcow2"
    with cached.open("r+b") as image:  # a byte flipped where qcow2 keeps nothing, as bit rot would
        image.seek(len(disk_image) - 1)
        image.write(b"\x01")

    result, _ = deploy(deploy_host, names, disk=image_disk(server, disk_image), network=network)

    assert result.document["error"]["code"] == "checksum_mismatch", result.summary
    assert f"VM {names[0]}" in result.summary and f"volume {names[0]}.qcow2" in result.summary
    assert cached.exists()
    virsh("destroy", names[0])
    virsh("undefine", names[0])
    virsh("vol-delete", f"{names[0]}.qcow2", "--pool", POOL)
    virsh("vol-delete", cached.name, "--pool", POOL)  # the next test fetches it afresh


def test_a_disk_is_never_smaller_than_its_image(
        deploy_host: Host, server: ImageServer, network: str, names: list[str], tmp_path: Path) -> None:
    path = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "3G"], check=True, timeout=60)
    image = path.read_bytes()
    server.files["/three-gib.qcow2"] = image

    result, _ = deploy(deploy_host, names, disk=image_disk(server, image, size_gib=1, path="/three-gib.qcow2"),
                       network=network)

    assert result.ok, result.summary
    assert qemu_img_info(str(POOL_DIR / f"{names[0]}.qcow2"))["virtual-size"] == 3 * 1024**3


def test_two_deployments_of_one_new_image_at_once_download_it_once(
        deploy_host: Host, server: ImageServer, network: str, names: list[str], tmp_path: Path) -> None:
    path = tmp_path / "shared.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "128M"], check=True, timeout=60)
    image = path.read_bytes()
    server.files["/shared.qcow2"] = image
    results: list[jobs.Result] = []

    def one() -> None:
        results.append(deploy(deploy_host, names, disk=image_disk(server, image, mode="copy",
                                                                   path="/shared.qcow2"), network=network)[0])

    workers = [threading.Thread(target=one) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    assert [result.ok for result in results] == [True, True], [result.summary for result in results]
    assert sorted(result.document["data"]["image_cache"] for result in results) == ["hit", "miss"]
    assert server.gets("/shared.qcow2") == [None]


def test_a_taken_name_is_refused_before_anything_is_made(
        deploy_host: Host, server: ImageServer, disk_image: bytes, guest: QemuGuest, names: list[str]) -> None:
    before = volumes()
    server.requests.clear()

    result, _ = deploy(deploy_host, names, name=guest.name, disk=image_disk(server, disk_image), cdroms=[SEED])
    names.clear()  # the VM is the shared test guest's, not this test's

    assert not result.ok and result.document["error"]["code"] == "name_taken"
    assert result.exit_code == jobs.EXIT_INVALID
    assert volumes() == before and server.requests == []


def test_a_failure_half_way_leaves_no_volume_and_no_domain(
        deploy_host: Host, server: ImageServer, disk_image: bytes, names: list[str]) -> None:
    deploy(deploy_host, [], name="fv-deploy-warm", disk=image_disk(server, disk_image),
           network="fv-no-such-network")  # caches the image (and fails like the one below)
    before_volumes, before_domains = volumes(), domains()

    result, recorder = deploy(deploy_host, names, disk=image_disk(server, disk_image), cdroms=[SEED],
                              network="fv-no-such-network")  # defined, then refused at start

    assert not result.ok and result.document["error"]["code"] == "define_failed", result.summary
    assert "booting" in recorder.steps  # it got that far: disk and seed ISO were made
    assert volumes() == before_volumes and domains() == before_domains
    assert all(not volume.startswith(names[0]) for volume in volumes())


def test_a_job_cancelled_before_its_vm_starts_leaves_nothing(
        deploy_host: Host, server: ImageServer, disk_image: bytes, network: str, names: list[str]) -> None:
    deploy(deploy_host, [], name="fv-deploy-warm2", disk=image_disk(server, disk_image),
           network="fv-no-such-network")  # caches the image
    before_volumes, before_domains = volumes(), domains()

    result, recorder = deploy(deploy_host, names, disk=image_disk(server, disk_image), cdroms=[SEED],
                              network=network, cancel_at="defining")  # cancelled while it defines the domain

    assert result.document["error"]["code"] == "cancelled" and recorder.steps[-1] == "defining"
    assert volumes() == before_volumes and domains() == before_domains


def test_a_later_attempt_of_the_same_job_reports_the_vm_the_first_one_made(
        deploy_host: Host, network: str, names: list[str]) -> None:
    first, _ = deploy(deploy_host, names, job_id="job_deploy_retry", network=network)
    name = names[0]
    virsh("destroy", name)  # the first attempt's report was lost, and the VM stopped meanwhile
    before = volumes()

    again, _ = deploy(deploy_host, names, job_id="job_deploy_retry", attempt=2, name=name, network=network)
    other, _ = deploy(deploy_host, names, job_id="job_deploy_other", attempt=2, name=name, network=network)

    assert again.ok and again.document["data"]["already_done"] is True, again.summary
    assert again.document["data"]["vm_uuid"] == first.document["data"]["vm_uuid"]
    assert virsh("domstate", name) == "running" and volumes() == before
    assert other.document["error"]["code"] == "name_taken"  # another job's VM of that name is not taken over


def test_a_pool_without_room_for_the_image_is_pool_full(
        host: Host, server: ImageServer, names: list[str], tmp_path: Path) -> None:
    directory = BASE / "deploy-small-pool"
    directory.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(directory)], check=True, timeout=30)
    big = tmp_path / "big.raw"
    big.write_bytes(bytes(510) + b"\x55\xaa" + secrets.token_bytes(6 * 1024 * 1024))
    server.files["/big.raw"] = big.read_bytes()
    small = Host(URI, DeploySettings(pool="fleetvisor-deploy-small", pool_dir=directory,
                                     allowed_sources=(f"{server.url}/",), download_dir=tmp_path / "dl",
                                     virt_type="qemu"))
    try:
        disk = {"size_gib": 1, "mode": "overlay",
                "source": {"url": f"{server.url}/big.raw", "sha256": hashlib.sha256(big.read_bytes()).hexdigest(),
                           "format": "raw", "max_bytes": 2**30}}
        result, _ = deploy(small, names, disk=disk)

        assert result.document["error"]["code"] == "pool_full", result.summary
        assert result.exit_code == jobs.EXIT_INVALID
        assert virsh("vol-list", "fleetvisor-deploy-small").splitlines()[2:] == []
    finally:
        small.close()
        for command in ("pool-destroy", "pool-undefine"):
            virsh(command, "fleetvisor-deploy-small", check=False)
        subprocess.run(["umount", str(directory)], check=False, timeout=30)
        directory.rmdir()


def test_the_whole_agent_deploys_a_signed_job_and_reports_progress_on_its_lease_calls(
        server: ImageServer, disk_image: bytes, network: str, names: list[str], tmp_path: Path) -> None:
    """The runner, against the agent tests' fake control plane: the nested arguments survive signing and
    verification, the lease calls carry the deployment's progress, the result document carries its data."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(json.loads(VECTORS_PATH.read_text())[
        "signing_key_seed_hex"]))
    name = f"fv-deploy-{secrets.token_hex(3)}"
    names.append(name)
    args = {"name": name, "vcpus": 1, "memory_mib": 96, "firmware": "bios", "secure_boot": False, "tpm": False,
            "machine": "q35", "disk_bus": "virtio", "nic_model": "virtio", "network": network,
            "disk": image_disk(server, disk_image), "cdroms": [SEED], "boot": ["hd", "cdrom"], "first_boot": None}
    with running(FakeControlPlane(signing_key=key)) as fake:
        fake.queue_job("vm.deploy", None, job_id="job_deploy_e2e", args=args)
        config = config_for(fake, tmp_path / "state", URI)
        config = dataclasses.replace(config, deploy=DeploySettings(
            pool=POOL, pool_dir=POOL_DIR, allowed_sources=(f"{server.url}/",), download_dir=tmp_path / "dl",
            virt_type="qemu"))
        agent = start(config)
        done = wait_until(lambda: completions(fake).get("job_deploy_e2e"), timeout=60)
        agent.stop()
        leases = [call.json() for call in fake.calls_to("/job_deploy_e2e/lease")]
        document = json.loads(fake.uploads["/upload/job_deploy_e2e/1"])

    assert done["exit_code"] == 0, done["summary"]
    assert leases[0] == {"claim_token": "ct-job_deploy_e2e-1", "running": True}
    reported = [body["progress"]["step"] for body in leases[1:] if "progress" in body]
    assert reported and set(reported) <= {"downloading", "verifying", "creating_disk", "defining", "booting", "done"}
    assert document["ok"] and document["data"]["name"] == name and document["vm"]["state"] == "running"
    assert virsh("domstate", name) == "running"


def test_a_checksum_mismatch_fails_and_keeps_nothing(
        deploy_host: Host, server: ImageServer, disk_image: bytes, names: list[str]) -> None:
    before = volumes()
    disk = image_disk(server, disk_image)
    disk["source"]["sha256"] = "0" * 64

    result, _ = deploy(deploy_host, names, disk=disk)

    assert result.document["error"]["code"] == "checksum_mismatch" and result.exit_code == jobs.EXIT_INVALID
    assert volumes() == before and names[0] not in domains()
    assert list(deploy_host.deploy.download_dir.iterdir()) == []


def test_a_file_that_is_no_disk_image_is_refused(
        deploy_host: Host, server: ImageServer, names: list[str]) -> None:
    junk = b"<html>" * 20000
    before = volumes()

    result, _ = deploy(deploy_host, names, disk=image_disk(server, junk, path="/junk.qcow2"))

    assert result.document["error"]["code"] == "not_a_disk_image", result.summary
    assert volumes() == before


def test_a_refused_source_is_never_fetched(deploy_host: Host, disk_image: bytes, names: list[str]) -> None:
    disk = {"size_gib": 1, "mode": "overlay", "source": {"url": "http://169.254.169.254/latest/x.qcow2",
                                                         "sha256": "a" * 64, "format": "qcow2", "max_bytes": 10}}
    result, _ = deploy(deploy_host, names, disk=disk)

    assert result.document["error"]["code"] == "source_refused" and result.exit_code == jobs.EXIT_INVALID


def test_uefi_secure_boot_and_a_tpm_are_in_the_definition(
        deploy_host: Host, network: str, names: list[str]) -> None:
    result, _ = deploy(deploy_host, names, firmware="uefi", secure_boot=True, tpm=True, disk_bus="sata", memory_mib=256,
                       nic_model="e1000e", network=network)

    assert result.ok, result.summary
    xml = ET.fromstring(virsh("dumpxml", names[0]))
    loader = xml.find("os/loader")
    assert loader is not None and loader.text == "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
    assert loader.get("secure") == "yes" and xml.find("features/smm") is not None
    nvram = xml.find("os/nvram")
    assert nvram is not None and nvram.get("template") == "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
    tpm = xml.find("devices/tpm")
    assert tpm is not None and tpm.get("model") == "tpm-crb"
    assert tpm.find("backend").get("type") == "emulator"  # type: ignore[union-attr]
    assert xml.find("devices/disk/target").get("bus") == "sata"  # type: ignore[union-attr]
    assert xml.find("devices/interface/model").get("type") == "e1000e"  # type: ignore[union-attr]
    assert virsh("domstate", names[0]) == "running"


def small_iso(label: str, files: dict[str, bytes]) -> bytes:
    """An ISO 9660 image with Joliet names (what Windows reads) and Rock Ridge, of `files` by path ("a/b/c.inf")."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=label)
    made: set[str] = set()
    for path, data in files.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in made:
                made.add(folder)
                iso.add_directory("/" + folder.upper(), rr_name=parts[depth - 1], joliet_path="/" + folder)
        iso.add_fp(io.BytesIO(data), len(data), "/" + path.upper().replace(".", "_", path.count(".") - 1) + ";1",
                   rr_name=parts[-1], joliet_path="/" + path)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def joliet_folders(path: Path) -> set[str]:
    """Every directory of an ISO, by its Joliet path without the leading '/'."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        return {root.lstrip("/") for root, _dirs, _files in iso.walk(joliet_path="/")}
    finally:
        iso.close()


def test_windows_with_the_virtio_driver_iso_starts_with_three_cdroms_and_a_virtio_disk(
        deploy_host: Host, server: ImageServer, network: str, names: list[str]) -> None:
    """The Windows profile's own arguments, rendered by the control plane with a driver ISO given, as the agent
    runs them: no Windows image can be fetched here, so the installer is a small ISO of its own, and the driver
    ISO one laid out as virtio-win is (viostor, vioscsi, NetKVM under 2k22/amd64). What this proves: both ISOs
    fetched and cached, the answer file packed and in the schema, the three CD-ROMs in order on SATA with the
    disk and NIC on virtio, UEFI secure boot and TPM, and QEMU running with all of them open. Not watched for
    its first boot (only Windows would ever print the marker)."""
    installer = small_iso("FV_WS2022_EVAL", {"setup.txt": b"not Windows: a stand-in for the evaluation ISO\n"})
    drivers = small_iso("VIRTIO_WIN", {f"{driver}/2k22/amd64/{driver.lower()}.inf": b"; stand-in\n"
                                       for driver in ("viostor", "vioscsi", "NetKVM")})
    server.files["/eval.iso"], server.files["/virtio-win.iso"] = installer, drivers
    name = f"fv-win-{secrets.token_hex(3)}"
    known = manifests.builtins()
    made = plan.plan({"profile": "windows-server-2022", "name": name, "network": network,
                      "sizing": {"vcpus": 1, "memory_mib": 2048, "disk_gib": 32},
                      "inputs": {"computer_name": "win-drv", "iso_url": f"{server.url}/eval.iso",
                                 "iso_sha256": hashlib.sha256(installer).hexdigest(), "drivers_source": "url",
                                 "drivers_url": f"{server.url}/virtio-win.iso",
                                 "drivers_sha256": hashlib.sha256(drivers).hexdigest()}},
                     lambda kind, manifest_id: known.get((kind, manifest_id)), None)
    args = json.loads(json.dumps(made.args))  # what the signed job carries: the sealed password put back
    [(placeholder, password)] = made.vault.values.items()
    answer = args["cdroms"][2]["generated"]["files"]
    answer["Autounattend.xml"] = answer["Autounattend.xml"].replace(placeholder, password)
    args.pop("name")
    assert args["first_boot"]["timeout_seconds"] == 7200
    args["first_boot"] = None  # no Windows here to ever say it is done: the agent starts the VM and stops there

    result, _ = deploy(deploy_host, names, name=name, **args)

    assert result.ok, result.summary
    assert virsh("domstate", name) == "running"
    installer_volume = POOL_DIR / f"fv-image-{hashlib.sha256(installer).hexdigest()}.iso"
    drivers_volume = POOL_DIR / f"fv-image-{hashlib.sha256(drivers).hexdigest()}.iso"
    seed_volume = POOL_DIR / f"{name}-seed2.iso"
    xml = ET.fromstring(virsh("dumpxml", name))
    disks = [(d.get("device"), d.find("source").get("file"), d.find("target").get("bus"),  # type: ignore[union-attr]
              d.find("target").get("dev")) for d in xml.findall("devices/disk")]  # type: ignore[union-attr]
    assert disks == [("disk", str(POOL_DIR / f"{name}.qcow2"), "virtio", "vda"),
                     ("cdrom", str(installer_volume), "sata", "sda"),
                     ("cdrom", str(drivers_volume), "sata", "sdb"),
                     ("cdrom", str(seed_volume), "sata", "sdc")]
    assert xml.find("devices/interface/model").get("type") == "virtio"  # type: ignore[union-attr]
    assert xml.find("os/loader").get("secure") == "yes"  # type: ignore[union-attr]
    assert xml.find("devices/tpm/backend").get("version") == "2.0"  # type: ignore[union-attr]
    # QEMU itself has the three ISOs open (not only libvirt's definition saying so).
    blocks = virsh("qemu-monitor-command", name, "--hmp", "info block")
    assert all(str(path) in blocks for path in (installer_volume, drivers_volume, seed_volume)), blocks

    label, files = seed.read(seed_volume.read_bytes())
    assert label == "UNATTEND" and list(files) == ["Autounattend.xml"]
    unattend.check(files["Autounattend.xml"])
    assert f"<Value>{unattend.xml_escaped(password)}</Value>" in files["Autounattend.xml"]
    named = {path.split(":", 1)[1].lstrip("\\").replace("\\", "/")
             for path in re.findall(r"<Path>([^<]+)</Path>", files["Autounattend.xml"])}
    assert named == {"viostor/2k22/amd64", "vioscsi/2k22/amd64", "NetKVM/2k22/amd64"}
    assert named <= joliet_folders(drivers_volume)  # every folder the answer file names is on the attached ISO


def test_a_deployed_vm_booting_an_installer_iso_has_its_first_boot_watched(
        deploy_host: Host, server: ImageServer, image: Image, network: str, names: list[str]) -> None:
    """The whole way: the busybox guest on a BIOS-bootable ISO served over HTTP, as an installer ISO, booted
    from a sata CD-ROM of a VM with a blank disk; its init takes a DHCP lease on the default network and prints
    the first-boot runner's lines on ttyS0."""
    iso = boot_iso(image, "console=ttyS0 fleetvisor.firstboot=nginx:0,app:2")
    server.files["/installer.iso"] = iso
    cdrom = {"source": {"url": f"{server.url}/installer.iso", "sha256": hashlib.sha256(iso).hexdigest(),
                        "max_bytes": len(iso)}}

    result, recorder = deploy(deploy_host, names, memory_mib=128, network=network, cdroms=[cdrom, SEED],
                              boot=["cdrom", "hd"], nic_model="e1000e",
                              first_boot={"marker": "FLEETVISOR-FIRST-BOOT", "timeout_seconds": 240})

    assert result.ok, result.summary
    data = result.document["data"]
    assert data["first_boot"] == "done", data
    assert data["installers"] == [{"id": "nginx", "exit": 0, "meaning": "ok", "last_lines": []},
                                  {"id": "app", "exit": 2, "meaning": "installation_error", "last_lines": []}]
    assert data["timeline_ms"]["first_boot"] > 0 and recorder.steps[-2:] == ["first_boot", "done"]
    assert "installers failed: app" in result.summary
    [address] = data["addresses"]  # the lease libvirt's dnsmasq gave the guest's udhcpc
    assert address.startswith("192.168.122."), data["addresses"]


def test_the_first_boot_watcher_reads_the_runners_lines_off_a_real_serial_console(
        host: Host, guest: QemuGuest) -> None:
    guest.ensure_running_ready()
    console = host.guest(guest.uuid).open_console()
    finished: list[str] = []
    try:
        outcome: list[firstboot.FirstBoot] = []
        watcher = threading.Thread(target=lambda: outcome.append(firstboot.watch(
            console, "FLEETVISOR-FIRST-BOOT", 30, threading.Event(), lambda item: finished.append(item.id))))
        _wait_for_the_shell(console)
        watcher.start()
        # printf's \106 is "F": the echo of the typed command line does not carry the marker itself.
        for line in ("installer=nginx line=aW5zdGFsbGluZyBuZ2lueA==", "installer=nginx exit=0",
                     "installer=app exit=2", "done"):
            console.write(f"printf '\\106LEETVISOR-FIRST-BOOT {line}\\n'\r".encode())
            time.sleep(0.3)
        watcher.join(30)
    finally:
        console.close()

    assert outcome and outcome[0].status == "done"
    assert [item.as_dict() for item in outcome[0].installers] == [
        {"id": "nginx", "exit": 0, "meaning": "ok", "last_lines": ["installing nginx"]},
        {"id": "app", "exit": 2, "meaning": "installation_error", "last_lines": []}]
    assert finished == ["nginx", "app"]


def _wait_for_the_shell(console: Any, timeout: float = 30) -> None:
    """Until the guest's shell answers: a shell just started flushes what was typed before it read its line."""
    deadline = time.monotonic() + timeout
    seen = b""
    while b"shell-42" not in seen:
        assert time.monotonic() < deadline, f"the guest's shell did not answer: {seen[-300:]!r}"
        console.write(b"\x03echo shell-$((40+2))\r")
        pause = time.monotonic() + 1
        while b"shell-42" not in seen and time.monotonic() < pause:
            seen += console.read(0.2) or b""


def test_first_boot_is_timed_out_when_the_runner_never_says_done(host: Host, guest: QemuGuest) -> None:
    guest.ensure_running_ready()
    console = host.guest(guest.uuid).open_console()
    try:
        started = time.monotonic()
        watched = firstboot.watch(console, "FLEETVISOR-FIRST-BOOT", 1.5, threading.Event())
    finally:
        console.close()

    assert watched.status == "timed_out" and 1.4 < time.monotonic() - started < 5


def test_a_user_mode_nic_listens_on_its_forwarded_host_port(deploy_host: Host, names: list[str]) -> None:
    port = free_port()
    result, _ = deploy(deploy_host, names, network={"mode": "user", "forwards": [
        {"address": "127.0.0.1", "host_port": port, "guest_port": 22}]})
    assert result.ok, result.summary
    assert result.document["data"]["forwards"] == [f"127.0.0.1:{port}->22/tcp"]
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # QEMU accepts for the guest (which boots nothing here, so the forward goes nowhere further)
    assert "<interface" not in virsh("dumpxml", names[-1])  # one NIC: QEMU's own, not also libvirt's


def test_a_forwarded_port_already_in_use_is_host_port_in_use_and_leaves_nothing(
        deploy_host: Host, names: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = volumes()
        result, _ = deploy(deploy_host, names, network={"mode": "user", "forwards": [
            {"address": "127.0.0.1", "host_port": port, "guest_port": 22}]})
    assert result.exit_code == jobs.EXIT_INVALID
    assert result.document["error"]["code"] == "host_port_in_use", result.summary
    assert names[-1] not in domains() and volumes() == before
