"""Per-request authentication cost and login cost.

Prints the time to verify an access token (signature and claims: pure
CPU), the whole per-request check (verify + the account, session and host
read in one request + an owner check, against dynalite), and a login (PBKDF2 at 600,000
iterations plus its reads and writes).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "functions")]

# Settings and clients are resolved on first use, after main() has pointed the environment at the emulators.
from chalicelib import store  # noqa: E402
from chalicelib.agents import logic as agents  # noqa: E402
from chalicelib.agents.models import Agent  # noqa: E402
from chalicelib.auth import logic, tokens  # noqa: E402

from infra.local import LocalStack, StackConfig  # noqa: E402


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"  {label:44s} p50 {statistics.median(samples):8.3f} ms   p99 {p99:8.3f} ms   (n={len(samples)})")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(StackConfig(root=Path(tmp), spa_dir=None, start_api=False, start_agent=False,
                                       admin_password="bench admin password"))
        with stack:
            env = stack.service_env()
            os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "FLEETVISOR_"))})
            store.bind()
            user = logic.create_user("bench@example.com", "bench password 123")
            session = logic.start_session(user, "bench", "127.0.0.1")
            Agent("ag_bench", owner_id=user.user_id, name="h", public_key="x" * 43, enrolled_ms=0).save()
            tokens.verify(session.access_token)  # warm the key cache

            def request_check() -> None:
                who, [host] = logic.principal_from_token(session.access_token, [(Agent, "ag_bench")])
                agents.check_owned(host, who.user_id)

            print("auth: operator access tokens (EdDSA) on the local stack")
            report("token verify (signature + claims)", timed(lambda: tokens.verify(session.access_token), 2000))
            report("per request: verify + one read + owner check", timed(request_check, 300))
            report("login (PBKDF2-SHA256 600k + reads/writes)",
                   timed(lambda: logic.login("bench@example.com", "bench password 123", "bench", "127.0.0.2"), 10))


if __name__ == "__main__":
    main()
