"""Login throttling with counters in the store (Lambda instances share no memory).

Failures are counted per account and per source address in fixed windows;
at the limit, logins are refused with 429 and Retry-After until the window
ends. Nothing locks an account for good.
"""

from __future__ import annotations

import time

from .. import store
from ..errors import TooManyRequests
from ..settings import settings
from .models import Throttle


def _counters(email: str, source_ip: str) -> list[tuple[str, int]]:
    config = settings()
    window = int(time.time()) // config.throttle_window_seconds
    out = [(f"acct#{email.strip().lower()[:254]}#{window}", config.throttle_per_account)]
    if source_ip:
        out.append((f"src#{source_ip}#{window}", config.throttle_per_source))
    return out


def _retry_after() -> int:
    window = settings().throttle_window_seconds
    return window - int(time.time()) % window


def check(email: str, source_ip: str) -> None:
    for counter_id, limit in _counters(email, source_ip):
        counter = store.get_or_none(Throttle, counter_id)
        if counter is not None and int(counter.failures) >= limit:
            raise TooManyRequests("Too many failed logins; wait before trying again.", _retry_after())


def record_failure(email: str, source_ip: str) -> None:
    expires_at = int(time.time()) + 2 * settings().throttle_window_seconds
    for counter_id, _ in _counters(email, source_ip):
        Throttle(counter_id).update(actions=[Throttle.failures.add(1), Throttle.expires_at.set(expires_at)])
