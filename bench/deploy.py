"""vm.deploy's timeline on a real QEMU host, to first boot done: a cache miss (download, verify, upload into
the pool, overlay, seed ISO, define, boot, cloud-init's first boot) against a cache hit (the cached image
hashed again, then the same), for the test cloud image served over HTTP on loopback.

    .venv/bin/python bench/deploy.py [--runs 1]

The image is the Debian 12 cloud image of the real-guest test (scripts/guest/debian_image.py
`cloud_image()`, built once and cached: about 770 MiB of qcow2), deployed as the operator profile that
test uploads (the built-in Ubuntu profile with this image), its arguments rendered by the control
plane's own planner (cloud-config with the first-boot runner, no installers) and run by the agent's
own job code on qemu:///system: domain type qemu (no KVM here), 2 vCPUs, 1 GiB, a user-mode NIC. The
VM is removed after each deployment; the bench's pool `fleetvisor-bench` at the end.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "functions"), str(REPO / "agent")]

from chalicelib.deployments import manifests, plan  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from fleetvisor_agent import jobs  # noqa: E402
from fleetvisor_agent.config import DeploySettings  # noqa: E402
from fleetvisor_agent.hypervisor.host import Host  # noqa: E402
from fleetvisor_agent.verify import VerifiedJob  # noqa: E402

from scripts.guest.debian_image import cloud_image  # noqa: E402
from tests.e2e.cloud_image import CLOUD_PROFILE_ID, cloud_profile_doc, serving_file  # noqa: E402
from tests.hypervisor.guest import BASE, URI, ensure_libvirtd, virsh  # noqa: E402

POOL = "fleetvisor-bench"
STEPS = ("download", "verify", "disk", "define", "boot", "first_boot")


def deploy(host: Host, profile: dict[str, Any]) -> dict[str, Any]:
    name = f"fv-bench-{secrets.token_hex(3)}"
    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    made = plan.plan({"profile": CLOUD_PROFILE_ID, "name": name,
                      "inputs": {"hostname": name, "ssh_keys": [key.decode()]},
                      "sizing": {"vcpus": 2, "memory_mib": 1024, "disk_gib": 10},
                      "network": {"mode": "user", "forwards": []}},
                     lambda kind, wanted: profile if (kind, wanted) == ("profile", CLOUD_PROFILE_ID) else None, None)
    assert not made.vault.values and jobs.args_valid("vm.deploy", made.args)
    job = VerifiedJob(job_id=f"job_{name}", agent_id="ag_bench", op="vm.deploy", args=made.args, issued_at=0,
                      expires_at=2**31, attempt=1, kid="k")
    try:
        result = jobs.run(job, host)
    finally:
        virsh("destroy", name, check=False)
        virsh("undefine", name, "--remove-all-storage", check=False)
    assert result.ok, result.summary
    data: dict[str, Any] = result.document["data"]
    assert data["first_boot"] == "done", data
    data["total_ms"] = result.document["duration_ms"]
    return data


def remove_pool() -> None:
    if subprocess.run(["virsh", "-c", URI, "pool-info", POOL], capture_output=True, check=False).returncode == 0:
        virsh("pool-refresh", POOL, check=False)
        for line in virsh("vol-list", POOL, check=False).splitlines()[2:]:
            if line.strip():
                virsh("vol-delete", line.split()[0], "--pool", POOL, check=False)
        for command in ("pool-destroy", "pool-delete", "pool-undefine"):
            virsh(command, POOL, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="deployments of each kind (each boots a VM: ~1 min)")
    options = parser.parse_args()
    ensure_libvirtd()
    image = cloud_image()
    rows: dict[str, list[dict[str, Any]]] = {"miss": [], "hit": []}
    with tempfile.TemporaryDirectory() as scratch, serving_file(image.disk) as url:
        profile = manifests.check(cloud_profile_doc(image, url))
        settings = DeploySettings(pool=POOL, pool_dir=BASE / "bench-pool",
                                  allowed_sources=(url.rsplit("/", 1)[0] + "/",),
                                  download_dir=Path(scratch) / "downloads", virt_type="qemu")
        host = Host(URI, settings)
        try:
            for _ in range(options.runs):
                remove_pool()  # a fresh pool: the next deployment misses
                for kind in ("miss", "hit"):
                    data = deploy(host, profile)
                    assert data["image_cache"] == kind, data
                    rows[kind].append(data)
        finally:
            host.close()
            remove_pool()
    print(f"vm.deploy of the test cloud image ({image.disk.stat().st_size / 2**20:.0f} MiB qcow2) over loopback HTTP "
          f"to cloud-init's first boot done, domain type qemu; median of {options.runs} (ms)")
    print(f"{'cache':<6}" + "".join(f"{step:>11}" for step in (*STEPS, "total")))
    for kind, runs in rows.items():
        cells = [statistics.median(run["timeline_ms"].get(step, 0) for run in runs) for step in STEPS]
        cells.append(statistics.median(run["total_ms"] for run in runs))
        print(f"{kind:<6}" + "".join(f"{cell:>11.0f}" for cell in cells))


if __name__ == "__main__":
    main()
