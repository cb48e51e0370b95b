"""Bursts against the local API server: 200 concurrent readers of the host list, and 50 concurrent logins.

Each client opens its own connection (no keep-alive), all released at once
by a barrier, as a burst of browsers or scripts would. Prints, for each
burst, the answers by status, connection errors (resets, timeouts) and the
p50/p99 of the answer time. The local server's listen backlog decides whether
a burst is queued or reset (infra/local_server.BurstServer); the logins'
statuses also show the login throttle counting each attempt before it hashes.

Usage: python bench/concurrency.py [--readers 200] [--logins 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.local import LocalStack, StackConfig, free_port  # noqa: E402

PASSWORD = "bench admin password"


def burst(count: int, call: Callable[[], requests.Response]) -> tuple[Counter[str], list[float]]:
    """`count` calls released together; their outcomes ("200", "401", "reset"...) and seconds."""
    gate = threading.Barrier(count)

    def one(_: int) -> tuple[str, float]:
        gate.wait()
        started = time.perf_counter()
        try:
            answer = call()
        except requests.ConnectionError:
            return "connection error", time.perf_counter() - started
        except requests.Timeout:
            return "timeout", time.perf_counter() - started
        return str(answer.status_code), time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(one, range(count)))
    return Counter(outcome for outcome, _ in results), [seconds for _, seconds in results]


def report(name: str, outcomes: Counter[str], seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    errors = sum(n for outcome, n in outcomes.items() if not outcome.isdigit() or outcome.startswith("5"))
    print(f"  {name}: {dict(sorted(outcomes.items()))}; errors {errors}; "
          f"p50 {statistics.median(seconds) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = StackConfig(root=Path(tmp), api_port=free_port(), spa_dir=None, start_agent=False,
                             admin_password=PASSWORD)
        with LocalStack(config) as stack:
            token = stack.login()

            def read() -> requests.Response:
                return requests.get(f"{stack.url}/api/agents", headers={"Authorization": f"Bearer {token}",
                                                                        "Connection": "close"}, timeout=30)

            def login() -> requests.Response:
                return requests.post(f"{stack.url}/api/auth/login", json={"email": config.admin_email,
                                     "password": "not the password"}, headers={"Connection": "close"}, timeout=30)

            print(f"concurrency: the local API server (2 cores), {args.readers} readers, then {args.logins} "
                  f"wrong-password logins on one account, each burst released at once")
            report(f"{args.readers} x GET /api/agents", *burst(args.readers, read))
            report(f"{args.logins} x POST /api/auth/login (wrong password)", *burst(args.logins, login))


if __name__ == "__main__":
    main()
