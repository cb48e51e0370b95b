"""Fleet changes: how an open hosts page learns, within two seconds, that a VM or host changed.

Each owner has one counter. What changes the page behind its back bumps it:
a heartbeat whose VM inventory differs from the stored one (a VM started
with virsh, a guest that powered itself off, a VM defined or undefined), a
job's completion that changed a VM, a host enrolling, coming back from stale
or lost, or deregistering itself. Changes an operator makes through the API
(approve, relabel) answer with the new state already, and a host ageing from
online to stale writes nothing; the page's slow tick (every 40 s: it asks
silent hosts for a sign of life, then refetches the host list) covers those.

The counter is the truth; the page reads a copy of it. Each bump (an atomic
ADD in DynamoDB, which answers the new version) also PUTs the tiny object
`changes/<owner_id>`, `{"version": N}`, in the objects bucket. `GET
/api/changes` (no `wait`) answers the version and a presigned GET of that
object (the feed, ~15 min); the page GETs it every `poll_ms` straight from
S3, without a Lambda: $0.40 per million reads instead of a function held
open, and no request at all while the tab is hidden. It refetches its lists
when the object's version differs from the last one it saw.

Why the copy can lag but never mislead for long:
- Each version is PUT by the one bump that made it, after its own change was
  written, so whatever the object holds, the changes of the bumps that wrote
  it are already in the store. Two bumps' PUTs may land out of order (the
  object shows N after N+1): the value still differs from what the page saw,
  so it refetches, and the data it then reads holds both changes.
- A PUT that fails does not fail the heartbeat or the job (logged): the
  object lags the counter until the next bump, the slow tick covers it.
- The feed is made sure to exist with a conditional PUT (`If-None-Match:
  *`): it creates the object with the counter's version when there is none
  (a new owner, an object lost), and never overwrites one, so a newer
  version written by a racing bump cannot be replaced by this older read.
  Its one blind spot: when it wrote version N while N's own bump was still
  on its way (the object was missing), that late PUT writes N again; if it
  lands within one poll of a newer bump's PUT, the page sees N, N+1, N as
  "N, N" and misses N+1 until the next bump or the slow tick.

The long poll (`after=V&wait=S`) stays for older clients (tabs opened
before an upgrade, scripts): it re-reads the counter every POLL_INTERVAL while
it holds a Lambda, as it always did; the web app no longer uses it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws, store
from ..errors import Unavailable
from ..settings import settings
from .models import FleetVersion

log = logging.getLogger("fleetvisor.changes")
POLL_INTERVAL = 0.25  # seconds between reads while an old client's long poll waits
PREFIX = "changes#"
FEED_URL_SECONDS = 900  # the page renews its feed before then, and on a 403
FEED_POLL_MS = 1500  # how often a visible page reads the feed: the 2 s bound, minus a refetch
# S3's answers to a conditional PUT whose object exists, or is being written by another conditional PUT.
ALREADY_THERE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


def object_key(owner_id: str) -> str:
    return f"changes/{owner_id}"


def bump(owner_id: str) -> int:
    """Note that something on the owner's hosts page changed: one UpdateItem (it creates the counter), then
    the feed object. Answers the new version."""
    counter = FleetVersion(PREFIX + owner_id)
    counter.update(actions=[FleetVersion.version.add(1)])
    version = int(counter.version)
    try:
        _put(owner_id, version)
    except (ClientError, BotoCoreError) as exc:
        log.warning("change feed of %s not written (version %d): %s", owner_id, version, _code(exc))
    return version


def current(owner_id: str) -> int:
    counter = store.get_or_none(FleetVersion, PREFIX + owner_id, consistent_read=True)
    return 0 if counter is None else int(counter.version)


def feed(owner_id: str) -> dict[str, Any]:
    """The owner's version now, and where the page reads it from until the URL expires."""
    version = current(owner_id)
    try:
        _put(owner_id, version, only_if_absent=True)
    except ClientError as exc:
        if _code(exc) not in ALREADY_THERE:
            log.warning("change feed of %s not made: %s", owner_id, _code(exc))
            raise Unavailable("The change feed cannot be read now.", 5, "feed_unavailable") from exc
    except BotoCoreError as exc:
        log.warning("change feed of %s not made: %s", owner_id, type(exc).__name__)
        raise Unavailable("The change feed cannot be read now.", 5, "feed_unavailable") from exc
    url = aws.s3_presigner().generate_presigned_url(
        "get_object", Params={"Bucket": settings().bucket, "Key": object_key(owner_id)}, ExpiresIn=FEED_URL_SECONDS)
    return {"version": version, "feed": {"url": str(url), "expires_at": int(time.time()) + FEED_URL_SECONDS,
                                         "poll_ms": FEED_POLL_MS}}


def _put(owner_id: str, version: int, *, only_if_absent: bool = False) -> None:
    params: dict[str, Any] = {"Bucket": settings().bucket, "Key": object_key(owner_id),
                              "Body": json.dumps({"version": version}), "ContentType": "application/json",
                              "CacheControl": "no-store"}
    if only_if_absent:
        params["IfNoneMatch"] = "*"
    aws.s3().put_object(**params)


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


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
