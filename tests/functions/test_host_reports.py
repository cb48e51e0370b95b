"""What a host reports is checked like operator input, and nothing non-JSON ever leaves the API
(issue 18, group 2): a compromised agent cannot break its owner's pages."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from chalice.test import Client
from chalicelib import web
from chalicelib.agents.models import Agent
from chalicelib.meta import openapi

from .conftest import VM, FakeHost, Operator, public_b64

AGENT_REPORT = {  # what fleetvisor_agent's heartbeat sends today (host._capabilities plus the beat's own fields)
    "hostname": "rack4-host1", "cpu_model": "Skylake-Client-IBRS", "cpu_arch": "x86_64", "cpu_count": 8,
    "cpu_mhz": 2400, "memory_total_kib": 16 * 1024 * 1024, "memory_free_kib": 1024, "libvirt_version": "9.0.0",
    "hypervisor": "QEMU", "hypervisor_version": "7.2.0", "kvm_usable": True, "serial_console": True,
    "agent_version": "0.1.0",
    "waiting_on": "queue", "hypervisor_available": False, "hypervisor_error": "connection_lost",
    "hypervisor_message": "Cannot connect to libvirt at qemu:///system: authentication unavailable: no polkit agent "
                          "available to authenticate action 'org.libvirt.unix.manage'",
}


def strict(body: bytes | str) -> Any:
    """JSON as a browser's JSON.parse reads it: NaN and Infinity are not JSON."""
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(body, parse_constant=refuse)


def _beat(client: Client, host: FakeHost, body: dict[str, Any] | str) -> Any:
    return client.http.post("/agent/v1/heartbeat", headers=host.headers,
                            body=body if isinstance(body, str) else json.dumps(body))


def _error(answer: Any) -> tuple[int, str]:
    return answer.status_code, strict(answer.body)["error"]["code"]


def test_an_infinite_number_in_a_heartbeat_is_refused_and_the_host_list_stays_json(
        client: Client, make_operator: Any, enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    before = Agent.get(host.agent_id, consistent_read=True)

    answer = _beat(client, host, '{"capabilities": {"cpu_count": 1e400}, "vms": []}')

    assert _error(answer) == (400, "invalid_json")
    after = Agent.get(host.agent_id, consistent_read=True)
    assert (after.capabilities, after.last_seen_ms) == (before.capabilities, before.last_seen_ms)
    listed = strict(client.http.get("/api/agents", headers=owner.headers).body)["agents"]
    assert [a["capabilities"] for a in listed] == [{"cpus": 2}]


@pytest.mark.parametrize("body", [
    '{"capabilities": {"cpu_count": NaN}}', '{"capabilities": {"cpu_count": -Infinity}}',
    '{"capabilities": {"cpu_model": "\\ud800"}}', '{"vms": [{"uuid": "x", "name": "\\udfff", "state": "running"}]}',
    '{"capabilities": {}, "vms": [], "running_jobs": [1e999]}',
])
def test_non_json_numbers_and_lone_surrogates_are_invalid_json(client: Client, make_operator: Any, enrol: Any,
                                                               body: str) -> None:
    host: FakeHost = enrol(make_operator())
    before = Agent.get(host.agent_id, consistent_read=True).attribute_values
    assert _error(_beat(client, host, body)) == (400, "invalid_json")
    assert Agent.get(host.agent_id, consistent_read=True).attribute_values == before


@pytest.mark.parametrize("capabilities", [
    {"cpu_count": "eight"}, {"cpu_count": -1}, {"cpu_count": 1.5}, {"cpu_count": True}, {"cpu_count": 2**60},
    {"memory_free_kib": 2**53 + 1}, {"kvm_usable": "yes"}, {"hypervisor_available": 1},
    {"serial_console": "yes"},
    {"waiting_on": "lambda"}, {"waiting_on": ["queue"]}, {"hypervisor_error": "<img src=x>"},
    {"hypervisor_message": "x" * 301}, {"hypervisor_message": "line\nbreak"},
    {"hypervisor": "x" * 65}, {"cpu_model": "a\u0007b"},
    {"future_field": {"nested": 1}}, {"future_field": [1, 2]}, {"future_field": 1e300}, {"future_field": "x" * 201},
    {"Not A Name": 1}, {"": 1}, {f"field_{n}": n for n in range(65)},
])
def test_capabilities_are_checked_by_type_and_range(client: Client, make_operator: Any, enrol: Any,
                                                    capabilities: dict[str, Any]) -> None:
    host: FakeHost = enrol(make_operator())
    before = Agent.get(host.agent_id, consistent_read=True)

    answer = _beat(client, host, {"capabilities": capabilities, "vms": [VM]})

    assert _error(answer) == (400, "invalid_request")
    assert strict(answer.body)["error"]["message"]
    after = Agent.get(host.agent_id, consistent_read=True)
    assert (after.capabilities, after.last_seen_ms) == (before.capabilities, before.last_seen_ms)


def test_what_the_agent_reports_today_is_accepted_with_newer_scalars(client: Client, make_operator: Any,
                                                                     enrol: Any) -> None:
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    report = {**AGENT_REPORT, "hypervisor_error": None, "gpu_count": 2, "load": 0.5, "kernel": "6.1.0-13-amd64"}

    assert _beat(client, host, {"capabilities": report, "vms": [VM]}).status_code == 200

    shown = strict(client.http.get(f"/api/agents/{host.agent_id}", headers=owner.headers).body)
    assert shown["capabilities"] == report
    assert _beat(client, host, {"capabilities": AGENT_REPORT, "vms": [VM]}).status_code == 200


def test_registration_checks_capabilities_the_same_way(client: Client, make_operator: Any) -> None:
    from chalicelib.agents import enrollment
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    owner: Operator = make_operator()
    token, _ = enrollment.mint_token(owner.user_id)
    body = {"token": token, "name": "bad-caps", "public_key": public_b64(Ed25519PrivateKey.generate()),
            "capabilities": {"cpu_count": "many"}}

    answer = client.http.post("/agent/v1/register", headers={"Content-Type": "application/json"},
                              body=json.dumps(body))

    assert _error(answer) == (400, "invalid_request")
    assert strict(client.http.get("/api/agents", headers=owner.headers).body)["agents"] == []


def test_a_non_finite_number_stored_before_the_check_is_answered_as_null(client: Client, make_operator: Any,
                                                                         enrol: Any) -> None:
    """Decided: drop on read. A value the check would refuse today, stored by an older control plane,
    answers null (and is logged), so the host list loads; the next heartbeat replaces it."""
    owner: Operator = make_operator()
    host: FakeHost = enrol(owner)
    Agent(host.agent_id).update(actions=[Agent.capabilities.set({"cpu_count": math.inf, "cpus": 2,
                                                                 "nested": [math.nan, 1.5]})])

    for path in ("/api/agents", f"/api/agents/{host.agent_id}"):
        answer = client.http.get(path, headers=owner.headers)
        assert answer.status_code == 200 and not re.search(rb"NaN|Infinity", answer.body)
        body = strict(answer.body)
        shown = body["agents"][0] if "agents" in body else body
        assert shown["capabilities"] == {"cpu_count": None, "cpus": 2, "nested": [None, 1.5]}


def test_the_encoder_never_writes_nan_or_infinity() -> None:
    assert web.to_json({"a": [1.0, math.inf, {"b": -math.inf}], "c": math.nan, "d": (2, "x")}) \
        == '{"a": [1.0, null, {"b": null}], "c": null, "d": [2, "x"]}'
    assert web.to_json({"fine": 1.5}) == '{"fine": 1.5}'


def test_every_body_taking_route_refuses_non_json_numbers_before_anything_else(
        client: Client, make_operator: Any, enrol: Any) -> None:
    """The parse is the app's, not each route's: every route that reads a body (the documented ones
    without path parameters, which would refuse a made-up id first, and the agent's) answers 400
    invalid_json for what JSON cannot hold."""
    admin: Operator = make_operator("admin")
    host: FakeHost = enrol(admin)
    routes = [(method.upper(), path) for method, path, _, _, body, _ in openapi.OPERATIONS
              if body is not None and "{" not in path and path != "/api/auth/signup"]  # signup is off: 404
    routes += [("POST", "/agent/v1/register"), ("POST", "/agent/v1/heartbeat"), ("POST", "/agent/v1/poll?wait=0")]
    assert len(routes) >= 9, routes
    for method, path in routes:
        headers = host.headers if path.startswith("/agent/v1/") else admin.headers
        for body in ('{"x": 1e400}', '{"x": NaN}', '{"x": "\\ud800"}'):
            answer = client.http.request(method, path, headers=headers, body=body.encode())
            assert _error(answer) == (400, "invalid_json"), (method, path, body, answer.body)
