"""VM metrics: where hosts put their statistics batches, and a VM's series read back from them.

Priced for an idle fleet (bench/metrics.py prints the figures). A host's agent
samples its VMs every minute and keeps the points (agent metrics.py); once
they are an hour old, its next heartbeat (sent anyway) asks, and the
answer carries one presigned PUT URL (`offer`) for one gzipped JSON object
under `metrics/<agent id>/<unix time, 10 digits>-<random>.json.gz`: one S3 PUT
per host per hour, no request of its own. The template's lifecycle rule
deletes them after 30 days. Nothing is written to DynamoDB: the object's
name says whose and when, and its size and shape are checked when it is read
(moto enforces no presigned size limit, and an agent is not trusted to keep
its owner's pages working), so an object too large, unreadable or of the
wrong shape is skipped, never a 500.

`series` assembles one VM's points from the objects named within the range
(an object holds up to MAX_BATCH_SPAN seconds before its name's time), and
averages them into at most MAX_POINTS buckets: hour 60 s, day 4 min, week
28 min. One answer per chart, whatever the range.

Live (`watch`): an open VM page asks for a VM's fine samples; the host's
doorbell is rung with `metrics:<vm uuid> <until> <PUT URL>` for one live
object (`metrics/live/<agent id>/<vm uuid>.json`, plain JSON so the page
reads it as it is through a presigned GET). The agent samples that VM every
5 s and puts the object every 20 s until `until` (LIVE_SECONDS); the page
asks again while it is visible and stops when hidden.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws
from ..agents.models import Agent
from ..errors import Invalid
from ..jobs import doorbell
from ..settings import settings

log = logging.getLogger("fleetvisor.metrics")

RANGES = {"hour": 3600, "day": 86400, "week": 7 * 86400}
METRICS = ("cpu", "memory", "memory_used", "disk_read", "disk_write", "net_rx", "net_tx")
MAX_POINTS = 360
NATIVE_STEP = 60  # the agents' sampling step
MAX_BATCH_SPAN = 6 * 3600  # an agent keeps at most 6 h of points while its uploads fail
MAX_OBJECT_BYTES = 512 * 1024  # gzipped; a batch of 200 VMs is far below this
MAX_UNZIPPED_BYTES = 8 * 1024 * 1024
MAX_OBJECTS = 800  # per read: a week of hourly batches is 168
READERS = 16  # objects fetched at once
LIVE_SECONDS = 90
PREFIX = "metrics/"
METRICS_PREFIX = "metrics:"  # the doorbell ring that asks a host for live samples


def batch_prefix(agent_id: str) -> str:
    return f"{PREFIX}{agent_id}/"


def batch_key(agent_id: str, at: int) -> str:
    """Built by the server; the time sorts names by when they were handed out."""
    return f"{batch_prefix(agent_id)}{at:010d}-{secrets.token_hex(4)}.json.gz"


def live_key(agent_id: str, vm_uuid: str) -> str:
    return f"{PREFIX}live/{agent_id}/{vm_uuid}.json"


def offer(agent: Agent, body: dict[str, Any]) -> dict[str, Any]:
    """Heartbeat answer fields: an upload URL for a batch when the beat says one is ready."""
    asked = body.get("metrics")
    if not isinstance(asked, dict) or asked.get("ready") is not True:
        return {}
    key = batch_key(agent.agent_id, int(time.time()))
    return {"metrics_upload": _presigned_put(key, MAX_OBJECT_BYTES)}


def _presigned_put(key: str, max_bytes: int) -> dict[str, Any]:
    config = settings()
    url = aws.s3_presigner().generate_presigned_url("put_object", Params={"Bucket": config.bucket, "Key": key},
                                                    ExpiresIn=config.upload_url_seconds)
    return {"url": url, "max_bytes": max_bytes, "expires_at": int(time.time()) + config.upload_url_seconds}


def parse_range(value: str | None) -> str:
    name = "hour" if value is None else value
    if name not in RANGES:
        raise Invalid("'range' must be one of hour, day, week.", "invalid_range")
    return name


def series(agent_id: str, vm_uuid: str, range_name: str, now: int | None = None) -> dict[str, Any]:
    """The VM's points over the range, averaged into buckets; how many objects were read and skipped."""
    end = int(time.time()) if now is None else now
    start = end - RANGES[range_name]
    step = max(NATIVE_STEP, RANGES[range_name] // MAX_POINTS)
    keys = _keys_between(agent_id, start, end + MAX_BATCH_SPAN)
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        documents = list(pool.map(_read_batch, keys))
    points: dict[int, tuple[Any, ...]] = {}
    for document in documents:
        if document is not None:
            points.update(_vm_points(document, vm_uuid, start, end))
    skipped = sum(1 for d in documents if d is None)
    return {"vm_uuid": vm_uuid, "range": range_name, "from": start, "to": end, "step": step,
            **downsample(sorted(points.items()), start, step), "objects": len(keys) - skipped, "skipped": skipped}


def _keys_between(agent_id: str, start: int, end: int) -> list[str]:
    """Names of the host's batches handed out from `start` to `end` (Unix seconds), the latest MAX_OBJECTS."""
    prefix = batch_prefix(agent_id)
    pages = aws.s3().get_paginator("list_objects_v2").paginate(
        Bucket=settings().bucket, Prefix=prefix, StartAfter=f"{prefix}{start:010d}")
    keys: list[str] = []
    for page in pages:
        for item in page.get("Contents", []):
            stamp = item["Key"][len(prefix):len(prefix) + 10]
            if not stamp.isdigit():
                continue
            if int(stamp) > end:
                return keys[-MAX_OBJECTS:]
            keys.append(item["Key"])
    return keys[-MAX_OBJECTS:]


def _read_batch(key: str) -> dict[str, Any] | None:
    """One batch object, or None (logged) when it is gone, too large or not what an agent writes."""
    try:
        answer = aws.s3().get_object(Bucket=settings().bucket, Key=key)
        if answer["ContentLength"] > MAX_OBJECT_BYTES:
            answer["Body"].close()
            raise ValueError(f"{answer['ContentLength']} bytes")
        document = json.loads(_gunzip(answer["Body"].read(), MAX_UNZIPPED_BYTES))
        if not isinstance(document, dict) or not isinstance(document.get("vms"), dict):
            raise ValueError("not a batch")
        return document
    except (ClientError, BotoCoreError, ValueError, OSError, EOFError, zlib.error) as exc:
        log.warning("metrics batch %s skipped: %s", key, exc)
        return None


def _gunzip(data: bytes, limit: int) -> bytes:
    """gzip's content, refusing more than `limit` bytes of it (a small object may unpack to gigabytes)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise ValueError("unpacks to more than allowed")
    return out


def _vm_points(document: dict[str, Any], vm_uuid: str, start: int, end: int) -> dict[int, tuple[Any, ...]]:
    """The VM's points in [start, end] from one batch; {} if the batch's columns are not well formed."""
    vm = document["vms"].get(vm_uuid)
    if not isinstance(vm, dict) or not isinstance(vm.get("t"), list):
        return {}
    times = vm["t"]
    columns = [vm.get(metric) for metric in METRICS]
    if not all(isinstance(c, list) and len(c) == len(times) for c in columns):
        return {}
    points = {}
    for i, t in enumerate(times):
        if isinstance(t, int) and start <= t <= end:
            points[t] = tuple(_number(c[i]) for c in columns)  # type: ignore[index]
    return points


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -2**53 <= value <= 2**53:
        return None
    return value


def downsample(points: list[tuple[int, tuple[Any, ...]]], start: int, step: int) -> dict[str, list[Any]]:
    """Columns with one value per `step`-second bucket that has points: the mean of its known values."""
    buckets: dict[int, list[tuple[Any, ...]]] = {}
    for t, values in points:
        buckets.setdefault(start + (t - start) // step * step, []).append(values)
    out: dict[str, list[Any]] = {"t": sorted(buckets)}
    for i, metric in enumerate(METRICS):
        out[metric] = [_mean([v[i] for v in buckets[t]]) for t in out["t"]]
    return out


def _mean(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 1) if known else None


def watch(agent: Agent, vm_uuid: str) -> dict[str, Any]:
    """Ask the host for the VM's live samples for LIVE_SECONDS; where the page reads them (presigned GET).
    `live: null` when no ring would reach the agent (no doorbell, or the agent says it waits in the API,
    whose long poll takes only job rings) or the ring failed."""
    if not agent.queue_url or (agent.capabilities or {}).get("waiting_on") == "api":
        return {"live": None, "until": None}
    key = live_key(agent.agent_id, vm_uuid)
    until = int(time.time()) + LIVE_SECONDS
    put = _presigned_put(key, MAX_OBJECT_BYTES)
    rung = doorbell.ring(agent.queue_url, f"{METRICS_PREFIX}{vm_uuid} {until} {put['url']}")
    if not rung:
        return {"live": None, "until": None}
    config = settings()
    url = aws.s3_presigner().generate_presigned_url("get_object", Params={"Bucket": config.bucket, "Key": key},
                                                    ExpiresIn=config.upload_url_seconds)
    return {"live": {"url": url, "step": 5}, "until": until}
