"""VM metrics: the batch URL a heartbeat hands out, a VM's series read back, and live sampling asks."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
import requests
from chalice.test import Client
from chalicelib import aws
from chalicelib.agents.models import Agent
from chalicelib.metrics import logic
from chalicelib.settings import settings

from .conftest import VM, FakeHost, Operator
from .conftest import drain_rings as _rings

UUID = VM["uuid"]


def _beat(client: Client, host: FakeHost, **extra: Any) -> dict[str, Any]:
    answer = client.http.post("/agent/v1/heartbeat", headers=host.headers,
                              body=json.dumps({"vms": [VM], "running_jobs": [], **extra}))
    assert answer.status_code == 200, answer.body
    body: dict[str, Any] = answer.json_body
    return body


def _batch(points: dict[int, float], uuid: str = UUID, name: str = "test") -> bytes:
    """A batch as the agent writes it: cpu at the given times, the other metrics derived from it."""
    times = sorted(points)
    series = {"name": name, "t": times, "cpu": [points[t] for t in times], "memory": [1048576] * len(times),
              "memory_used": [500000] * len(times), "disk_read": [int(points[t] * 1000) for t in times],
              "disk_write": [0] * len(times), "net_rx": [None] * len(times), "net_tx": [7] * len(times)}
    return gzip.compress(json.dumps({"v": 1, "step": 60, "vms": {uuid: series}}).encode())


def _upload(client: Client, host: FakeHost, data: bytes) -> str:
    offer = _beat(client, host, metrics={"ready": True})["metrics_upload"]
    assert requests.put(offer["url"], data=data, timeout=10).status_code == 200
    return str(offer["url"])


def _read(client: Client, who: Operator, host: FakeHost, query: str = "", vm: str = UUID) -> Any:
    return client.http.get(f"/api/agents/{host.agent_id}/vms/{vm}/metrics{query}", headers=who.headers)


def _put_object(key: str, data: bytes) -> None:
    aws.s3().put_object(Bucket=settings().bucket, Key=key, Body=data)


def test_a_heartbeat_gets_a_batch_url_only_when_it_says_one_is_ready(client: Client, make_operator: Any,
                                                                     enrol: Any) -> None:
    host = enrol(make_operator())
    assert "metrics_upload" not in _beat(client, host)
    assert "metrics_upload" not in _beat(client, host, metrics={"ready": "yes"})
    offer = _beat(client, host, metrics={"ready": True})["metrics_upload"]
    assert f"/metrics/{host.agent_id}/" in offer["url"] and offer["max_bytes"] == logic.MAX_OBJECT_BYTES
    assert offer["expires_at"] > time.time()


def test_a_vms_series_is_assembled_from_the_batches_in_range_and_averaged_into_steps(
        client: Client, make_operator: Any, enrol: Any) -> None:
    owner = make_operator()
    host = enrol(owner)
    now = int(time.time())
    _upload(client, host, _batch({now - 600: 10.0, now - 540: 30.0, now - 7200: 99.0}))
    _upload(client, host, _batch({now - 120: 50.0}))
    _upload(client, host, _batch({now - 60: 70.0}, uuid="00000000-0000-4000-8000-000000000000"))  # another VM
    hour = _read(client, owner, host)
    assert hour.status_code == 200, hour.body
    body = hour.json_body
    assert (body["range"], body["step"], body["objects"], body["skipped"]) == ("hour", 60, 3, 0)
    assert body["cpu"] == [10.0, 30.0, 50.0] and body["disk_read"] == [10000, 30000, 50000]
    assert body["net_rx"] == [None] * 3 and body["memory"] == [1048576] * 3
    assert all(body["from"] <= t <= body["to"] for t in body["t"])
    day = _read(client, owner, host, "?range=day").json_body  # the 2-hour-old point too; 4-minute buckets
    assert day["step"] == 240 and 99.0 in day["cpu"] and 20.0 in day["cpu"]  # 10 and 30 share a bucket
    by_name = _read(client, owner, host, "?range=week", vm="test")
    assert by_name.status_code == 200 and by_name.json_body["vm_uuid"] == UUID


def test_a_vm_without_batches_has_empty_series(client: Client, make_operator: Any, enrol: Any) -> None:
    owner = make_operator()
    body = _read(client, owner, enrol(owner)).json_body
    assert (body["t"], body["cpu"], body["objects"]) == ([], [], 0)


@pytest.mark.parametrize("query", ["?range=month", "?range=", "?range=HOUR", "?range=3600"])
def test_a_range_other_than_hour_day_week_is_400(client: Client, make_operator: Any, enrol: Any,
                                                 query: str) -> None:
    owner = make_operator()
    answer = _read(client, owner, enrol(owner), query)
    assert answer.status_code == 400 and answer.json_body["error"]["code"] == "invalid_range"


def test_another_owners_vm_series_and_live_ask_are_404_and_ring_nothing(client: Client, make_operator: Any,
                                                                        enrol: Any) -> None:
    owner, stranger = make_operator(), make_operator()
    host = enrol(owner)
    _upload(client, host, _batch({int(time.time()) - 60: 5.0}))
    assert _read(client, stranger, host).status_code == 404
    live = client.http.post(f"/api/agents/{host.agent_id}/vms/{UUID}/metrics/live", headers=stranger.headers)
    assert live.status_code == 404 and live.json_body["error"]["code"] == "agent_not_found"
    assert _rings(host) == []
    assert _read(client, owner, host, vm="00000000-0000-4000-8000-000000000000").status_code == 404


def test_objects_too_large_unreadable_or_malformed_are_skipped_not_a_500(client: Client, make_operator: Any,
                                                                          enrol: Any) -> None:
    owner = make_operator()
    host = enrol(owner)
    now = int(time.time())
    _upload(client, host, _batch({now - 300: 40.0}))
    prefix = logic.batch_prefix(host.agent_id)
    bomb = gzip.compress(b" " * (logic.MAX_UNZIPPED_BYTES + 1))  # small, but unpacks past the limit
    _put_object(f"{prefix}{now - 200:010d}-big.json.gz", b"x" * (logic.MAX_OBJECT_BYTES + 1))
    _put_object(f"{prefix}{now - 100:010d}-bomb.json.gz", bomb)
    _put_object(f"{prefix}{now - 50:010d}-junk.json.gz", b"not gzip")
    _put_object(f"{prefix}{now - 40:010d}-list.json.gz", gzip.compress(b"[1, 2]"))
    ragged = json.loads(gzip.decompress(_batch({now - 30: 1.0, now - 20: 2.0})))
    ragged["vms"][UUID]["cpu"].pop()
    _put_object(f"{prefix}{now - 10:010d}-ragged.json.gz", gzip.compress(json.dumps(ragged).encode()))
    answer = _read(client, owner, host)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["cpu"] == [40.0] and answer.json_body["skipped"] == 4  # ragged: read, no points


def test_a_live_ask_rings_the_host_with_a_put_url_and_answers_where_the_page_reads_it(
        client: Client, make_operator: Any, enrol: Any) -> None:
    owner = make_operator()
    host = enrol(owner)
    _rings(host)  # whatever enrolment rang
    answer = client.http.post(f"/api/agents/{host.agent_id}/vms/test/metrics/live", headers=owner.headers)
    assert answer.status_code == 200, answer.body
    body = answer.json_body
    assert time.time() < body["until"] <= time.time() + logic.LIVE_SECONDS + 1
    [ring] = _rings(host)
    vm_uuid, until, put_url = ring.removeprefix("metrics:").split(" ")
    assert (vm_uuid, int(until)) == (UUID, body["until"])
    assert requests.put(put_url, data=b'{"v": 1}', timeout=10).status_code == 200
    assert requests.get(body["live"]["url"], timeout=10).content == b'{"v": 1}'


@pytest.mark.parametrize("without", ["queue", "waiting in the api"])
def test_a_host_no_ring_reaches_has_no_live_samples_to_offer(client: Client, make_operator: Any, enrol: Any,
                                                             without: str) -> None:
    owner = make_operator()
    host = enrol(owner)
    if without == "queue":
        Agent.get(host.agent_id).update(actions=[Agent.queue_url.set("")])
    else:
        _beat(client, host, capabilities={"waiting_on": "api"})
        _rings(host)
    answer = client.http.post(f"/api/agents/{host.agent_id}/vms/{UUID}/metrics/live", headers=owner.headers)
    assert answer.status_code == 200 and answer.json_body == {"live": None, "until": None}
    if without != "queue":
        assert _rings(host) == []



def test_a_heartbeat_may_carry_the_hosts_cpu_use_within_0_to_100(client: Client, make_operator: Any,
                                                                  enrol: Any) -> None:
    owner = make_operator()
    host = enrol(owner)
    _beat(client, host, capabilities={"cpu_used_percent": 42.5})
    shown = client.http.get(f"/api/agents/{host.agent_id}", headers=owner.headers).json_body
    assert shown["capabilities"]["cpu_used_percent"] == 42.5
    for bad in (100.5, -1, "42", True):
        answer = client.http.post("/agent/v1/heartbeat", headers=host.headers,
                                  body=json.dumps({"vms": [VM], "capabilities": {"cpu_used_percent": bad}}))
        assert answer.status_code == 400 and answer.json_body["error"]["code"] == "invalid_request"
    assert Agent.get(host.agent_id).capabilities["cpu_used_percent"] == 42.5  # refused reports changed nothing
