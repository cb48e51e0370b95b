"""vm.deploy's timeline on a real QEMU host: a cache miss (download, verify, upload into the pool, overlay,
seed ISO, define, boot) against a cache hit (the cached image hashed again, then the same), for a test image
served over HTTP on loopback.

    .venv/bin/python bench/deploy.py [--mib 256] [--runs 3]

The image is a qcow2 holding `--mib` MiB of random data (incompressible, so every byte is downloaded, hashed
and uploaded). Guests are domain type qemu with 96 MiB and nothing to boot; everything the bench makes (its
pool `fleetvisor-bench`, VMs, volumes) is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "agent"))

from fleetvisor_agent import jobs  # noqa: E402
from fleetvisor_agent.config import DeploySettings  # noqa: E402
from fleetvisor_agent.hypervisor.host import Host  # noqa: E402
from fleetvisor_agent.verify import VerifiedJob  # noqa: E402

from tests.agent.image_server import ImageServer, serving  # noqa: E402
from tests.hypervisor.guest import BASE, URI, ensure_libvirtd, virsh, virsh_fields  # noqa: E402

POOL = "fleetvisor-bench"
STEPS = ("download", "verify", "disk", "define", "boot")


def make_image(directory: Path, mib: int) -> bytes:
    raw, qcow2 = directory / "disk.raw", directory / "disk.qcow2"
    with raw.open("wb") as out:
        out.write(bytes(510) + b"\x55\xaa")
        for _ in range(mib):
            out.write(os.urandom(1024 * 1024))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    return qcow2.read_bytes()


def deploy(host: Host, url: str, image: bytes) -> dict[str, Any]:
    name = f"fv-bench-{secrets.token_hex(3)}"
    source = {"url": url, "sha256": hashlib.sha256(image).hexdigest(), "format": "qcow2", "max_bytes": len(image)}
    args = {"name": name, "vcpus": 1, "memory_mib": 96, "firmware": "bios", "secure_boot": False, "tpm": False,
            "machine": "q35", "disk_bus": "virtio", "nic_model": "virtio", "network": "default",
            "disk": {"size_gib": 1, "mode": "overlay", "source": source},
            "cdroms": [{"generated": {"label": "cidata", "files": {"user-data": "#cloud-config\n",
                                                                   "meta-data": f"instance-id: {name}\n"}}}],
            "boot": ["hd"], "first_boot": None}
    assert jobs.args_valid("vm.deploy", args)
    job = VerifiedJob(job_id=f"job_{name}", agent_id="ag_bench", op="vm.deploy", args=args, issued_at=0,
                      expires_at=2**31, attempt=1, kid="k")
    result = jobs.run(job, host)
    assert result.ok, result.summary
    data: dict[str, Any] = result.document["data"]
    data["total_ms"] = result.document["duration_ms"]
    return data


def remove(names: list[str]) -> None:
    for name in names:
        virsh("destroy", name, check=False)
        virsh("undefine", name, "--remove-all-storage", check=False)
    if subprocess.run(["virsh", "-c", URI, "pool-info", POOL], capture_output=True, check=False).returncode == 0:
        virsh("pool-refresh", POOL, check=False)
        for line in virsh("vol-list", POOL, check=False).splitlines()[2:]:
            if line.strip():
                virsh("vol-delete", line.split()[0], "--pool", POOL, check=False)
        for command in ("pool-destroy", "pool-delete", "pool-undefine"):
            virsh(command, POOL, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB of data in the test image")
    parser.add_argument("--runs", type=int, default=3, help="deployments of each kind")
    options = parser.parse_args()
    ensure_libvirtd()
    network_started = virsh_fields("net-info", "default").get("Active") != "yes"
    if network_started:
        virsh("net-start", "default")
    names: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        image = make_image(Path(scratch), options.mib)
        with serving(ImageServer(files={"/bench.qcow2": image})) as server:
            settings = DeploySettings(pool=POOL, pool_dir=BASE / "bench-pool", allowed_sources=(f"{server.url}/",),
                                      download_dir=Path(scratch) / "downloads", virt_type="qemu")
            host = Host(URI, settings)
            rows: dict[str, list[dict[str, Any]]] = {"miss": [], "hit": []}
            try:
                for _ in range(options.runs):
                    remove(names)  # a fresh pool: the next deployment misses
                    names.clear()
                    for kind in ("miss", "hit"):
                        data = deploy(host, f"{server.url}/bench.qcow2", image)
                        names.append(data["name"])
                        assert data["image_cache"] == kind, data
                        rows[kind].append(data)
            finally:
                host.close()
                remove(names)
                if network_started:
                    virsh("net-destroy", "default", check=False)
    print(f"vm.deploy of a {len(image) / 2**20:.0f} MiB qcow2 over loopback HTTP, domain type qemu; "
          f"median of {options.runs} (ms)")
    print(f"{'cache':<6}" + "".join(f"{step:>10}" for step in (*STEPS, "total")))
    for kind, runs in rows.items():
        cells = [statistics.median(run["timeline_ms"].get(step, 0) for run in runs) for step in STEPS]
        cells.append(statistics.median(run["total_ms"] for run in runs))
        print(f"{kind:<6}" + "".join(f"{cell:>10.0f}" for cell in cells))


if __name__ == "__main__":
    main()
