"""Password-guess throttling with counters in the store (Lambda instances share no memory).

Failures are counted per account and per source address in fixed windows;
at the limit, logins are refused with 429 and Retry-After until the window
ends. Nothing locks an account for good. A wrong current password on
`POST /api/me/password` counts with the account's login failures: a stolen
access token must not buy unthrottled guessing. Each attempt takes its slot
before the password is hashed and gives it back when it succeeds.
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


def take(email: str, source_ip: str) -> list[str]:
    """Reserve one failure on each of the attempt's counters before any password is hashed; 429 once any
    counter is at its limit. The counters it took are returned, for `give_back` when the attempt succeeds.

    Counting first, with one conditional increment per counter, is what holds under a burst: thirty
    concurrent guesses each race for a slot, and no more than the limit reach the ~150 ms hash. (Checking,
    hashing, then counting let 21 of 30 through before the first 429.)
    """
    expires_at = int(time.time()) + 2 * settings().throttle_window_seconds
    taken: list[str] = []
    for counter_id, limit in _counters(email, source_ip):
        with store.race() as slot:
            Throttle(counter_id).update(actions=[Throttle.failures.add(1), Throttle.expires_at.set(expires_at)],
                                        condition=Throttle.failures.does_not_exist() | (Throttle.failures < limit))
        if slot.lost:
            give_back(taken)
            raise TooManyRequests("Too many failed attempts; wait before trying again.", _retry_after())
        taken.append(counter_id)
    return taken


def give_back(counter_ids: list[str]) -> None:
    """The attempt succeeded: the failures it reserved are not failures."""
    for counter_id in counter_ids:
        Throttle(counter_id).update(actions=[Throttle.failures.add(-1)])
