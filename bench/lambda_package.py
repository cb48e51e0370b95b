"""The packaged API function run Lambda-style: what a cold and a warm invocation cost here.

Packages the dev stage (`make package`), stands its stack up in moto's server
with IAM enforcement (infra/offline.py), and runs the unzipped deployment.zip
in a clean interpreter with the stack role's credentials (infra/lambda_style.py).
Prints: the package's size zipped and unzipped against Lambda's limits (50 MB
zipped for a direct upload, 250 MB unzipped), app.py's import time, the first
request's time, p50/p99 of the next 100 GET /api/health and 100 authenticated
GET /api/agents, and the function's peak RSS against its configured memory.

Cold starts on real Lambda depend on the CPU share that comes with the
configured memory (about one vCPU at 1,769 MB, a fraction below), which this
machine cannot reproduce: the times here are a lower bound for 512 MB.

Usage: python bench/lambda_package.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra import deploy, offline  # noqa: E402
from infra.lambda_style import LambdaProcess, api_event, function_resource, unzip  # noqa: E402

API = "app.app"
ZIPPED_LIMIT_MB, UNZIPPED_LIMIT_MB = 50, 250
ADMIN = "bench@fleetvisor.example"


def sizes(zip_path: Path) -> tuple[float, float]:
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return zip_path.stat().st_size / 2**20, unzipped / 2**20


def timed(process: LambdaProcess, method: str, path: str, **kwargs: Any) -> float:
    started = time.perf_counter()
    status, body = process.http(method, path, **kwargs)
    if status != 200:
        raise RuntimeError(f"{method} {path}: {status} {body}")
    return (time.perf_counter() - started) * 1000


def login(process: LambdaProcess, stack: offline.OfflineStack) -> dict[str, str]:
    admin = deploy.ensure_first_admin(stack.admin_env(), ADMIN)
    status, body = process.http("POST", "/api/auth/login", body={"email": ADMIN, "password": admin["password"]},
                                headers={"Content-Type": "application/json"})
    if status != 200:
        raise RuntimeError(f"login: {status} {body}")
    return {"Authorization": f"Bearer {body['access_token']}"}


def percentiles(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"  {label:<38} p50 {statistics.median(ordered):6.1f} ms   p99 {p99:6.1f} ms")


def run(work: Path) -> None:
    dist = deploy.package(deploy.load_stage("dev"), work / "dist")
    zipped, unzipped = sizes(dist / "deployment.zip")
    moto = offline.MotoServer(work / "moto.log").start()
    try:
        stack = offline.stand_up(dist, moto, "dev", "fleetvisor-dev")
        role = moto.assume(stack.ids["DefaultRole"])
        process = LambdaProcess(unzip(dist / "deployment.zip", work / "package"),
                                stack.lambda_env(API, role), work / "api.log")
        try:
            report(process, stack, zipped, unzipped)
        finally:
            process.stop()
    finally:
        moto.stop()


def report(process: LambdaProcess, stack: offline.OfflineStack, zipped: float, unzipped: float) -> None:
    started = time.perf_counter()
    first = process.send({"invoke": API, "event": api_event("GET", "/api/health")})
    first_ms = (time.perf_counter() - started) * 1000
    health = [timed(process, "GET", "/api/health") for _ in range(100)]
    headers = login(process, stack)
    agents = [timed(process, "GET", "/api/agents", headers=headers) for _ in range(100)]
    peak = process.probe()["maxrss_kib"] / 1024
    memory = int(function_resource(stack.translated, API)[1]["MemorySize"])
    print("lambda package (dev stage, API function, Lambda-style against moto with IAM enforced)")
    print(f"  deployment.zip                          {zipped:6.1f} MB zipped (limit {ZIPPED_LIMIT_MB}), "
          f"{unzipped:6.1f} MB unzipped (limit {UNZIPPED_LIMIT_MB})")
    print(f"  import app.py                           {first['import_s'] * 1000:6.0f} ms")
    print(f"  first request (import included)         {first_ms:6.0f} ms")
    percentiles("next 100 GET /api/health", health)
    percentiles("100 GET /api/agents (authenticated)", agents)
    print(f"  peak RSS                                {peak:6.0f} MB of {memory} MB configured "
          f"({100 * peak / memory:.0f} %)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fv-lambda-bench-") as work:
        run(Path(work))


if __name__ == "__main__":
    main()
