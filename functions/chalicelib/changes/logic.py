"""Fleet changes: how an open hosts page learns, within a second, that a VM or host changed.

Each owner has one counter. What changes the page behind its back bumps it:
a heartbeat whose VM inventory differs from the stored one (a VM started
with virsh, a guest that powered itself off, a VM defined or undefined), a
job's completion that changed a VM, a host enrolling, coming back from stale
or lost, or deregistering itself. Changes an operator makes through the API
(approve, relabel) answer with the new state already, and a host ageing from
online to stale writes nothing; the page's slow periodic refresh covers those.

The web app long-polls `GET /api/changes?after=V&wait=S` and refetches its
lists when the version moves. The wait re-reads the counter every
POLL_INTERVAL (one strongly consistent GetItem of a tiny item), as console
output does: bounded, no queue per browser tab, and the latency is this
interval plus two HTTP hops. An idle heartbeat writes nothing here, so a quiet
fleet costs only the open pages' reads.
"""

from __future__ import annotations

import time

from .. import store
from .models import FleetVersion

POLL_INTERVAL = 0.25  # seconds between reads while a page waits
PREFIX = "changes#"


def bump(owner_id: str) -> None:
    """Note that something on the owner's hosts page changed (one UpdateItem; it creates the counter)."""
    FleetVersion(PREFIX + owner_id).update(actions=[FleetVersion.version.add(1)])


def current(owner_id: str) -> int:
    counter = store.get_or_none(FleetVersion, PREFIX + owner_id, consistent_read=True)
    return 0 if counter is None else int(counter.version)


def wait_for_change(owner_id: str, *, after: int | None, wait: float) -> int:
    """The owner's version, once it differs from `after` or `wait` seconds have passed (at once without `after`).

    Any difference answers, not only a larger number: a counter that went back
    (a store restored from backup) must make the page refetch, not wait forever.
    """
    version = current(owner_id)
    deadline = time.monotonic() + wait
    while after is not None and version == after and time.monotonic() < deadline:
        time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
        version = current(owner_id)
    return version
