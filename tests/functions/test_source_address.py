"""Who a request comes from (login throttle, audit trail): behind CloudFront the
viewer's address, but only when our distribution's origin secret proves the
request came through it; otherwise the connection's own address."""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from chalice.local import LambdaEventConverter
from chalice.test import Client
from chalicelib.audit.models import AuditRecord
from chalicelib.auth.models import Throttle
from chalicelib.settings import settings
from chalicelib.web import viewer_ip

from .conftest import PASSWORD, Operator

SECRET = "origin secret 0123456789abcdef"
CONNECTION = LambdaEventConverter.LOCAL_SOURCE_IP  # what chalice's test client reports as the connection's address


@pytest.mark.parametrize(("value", "ip"), [
    ("198.51.100.10:46532", "198.51.100.10"),
    (" 198.51.100.10:443 ", "198.51.100.10"),
    ("2001:db8:85a3::8a2e:370:7334:46532", "2001:db8:85a3::8a2e:370:7334"),  # as CloudFront writes IPv6
    ("2001:0db8:0000:0000:0000:0000:0000:0001:443", "2001:db8::1"),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("::ffff:198.51.100.10:443", "198.51.100.10"),
])
def test_a_viewer_address_gives_its_ip(value: str, ip: str) -> None:
    assert viewer_ip(value) == ip


@pytest.mark.parametrize("value", [
    "", "198.51.100.10", "198.51.100.10:", "198.51.100.10:http", "198.51.100.10:65536", "198.51.100.10:" + "9" * 5000,
    "198.51.100.10:٤٤٣", "198.51.100.10:1, 203.0.113.7:2", "example.com:443", "[2001:db8::1]", "[2001:db8::1:443",
    "2001:db8::1", "fe80::1%eth0:443", "256.1.1.1:443", "<script>:443",
])
def test_a_malformed_viewer_address_gives_nothing(value: str) -> None:
    assert viewer_ip(value) is None


def _login_source(client: Client, op: Operator, headers: dict[str, str]) -> str:
    answer = client.http.post("/api/auth/login", headers={"Content-Type": "application/json", **headers},
                              body=json.dumps({"email": op.email, "password": PASSWORD}))
    assert answer.status_code == 200, answer.body
    [latest] = AuditRecord.query(op.user_id, scan_index_forward=False, limit=1, consistent_read=True)
    assert latest.action == "auth.login"
    return str(latest.source_ip)


@pytest.mark.parametrize("viewer", ["198.51.100.10:46532", "2001:db8::7:46532"])
def test_through_our_distribution_the_login_is_audited_with_the_viewers_address(
        client: Client, make_operator: Any, configure: Callable[..., None], viewer: str) -> None:
    configure(FLEETVISOR_ORIGIN_VERIFY=SECRET)
    op: Operator = make_operator()

    source = _login_source(client, op, {"CloudFront-Viewer-Address": viewer, "X-Fleetvisor-Origin-Verify": SECRET})

    assert source == viewer.rsplit(":", 1)[0]


@pytest.mark.parametrize("proof", [{}, {"X-Fleetvisor-Origin-Verify": "guess"},
                                   {"X-Fleetvisor-Origin-Verify": SECRET + "x"},
                                   {"X-Fleetvisor-Origin-Verify": SECRET.upper()}])
def test_without_the_origin_secret_a_viewer_address_is_ignored(
        client: Client, make_operator: Any, configure: Callable[..., None], proof: dict[str, str]) -> None:
    # A caller reaching API Gateway directly can forge the viewer header, not the secret.
    configure(FLEETVISOR_ORIGIN_VERIFY=SECRET)
    op: Operator = make_operator()

    assert _login_source(client, op, {"CloudFront-Viewer-Address": "203.0.113.7:1234", **proof}) == CONNECTION


def test_a_malformed_viewer_address_is_ignored_even_with_the_secret(
        client: Client, make_operator: Any, configure: Callable[..., None]) -> None:
    configure(FLEETVISOR_ORIGIN_VERIFY=SECRET)
    op: Operator = make_operator()

    source = _login_source(client, op, {"CloudFront-Viewer-Address": "203.0.113.7",
                                        "X-Fleetvisor-Origin-Verify": SECRET})

    assert source == CONNECTION


@pytest.mark.parametrize("proof", ["", "anything"])
def test_with_no_origin_secret_configured_no_viewer_address_is_believed(
        client: Client, make_operator: Any, configure: Callable[..., None], proof: str) -> None:
    configure(FLEETVISOR_ORIGIN_VERIFY="")
    op: Operator = make_operator()

    source = _login_source(client, op, {"CloudFront-Viewer-Address": "203.0.113.7:1234",
                                        "X-Fleetvisor-Origin-Verify": proof})

    assert source == CONNECTION


def test_the_login_throttle_counts_the_viewers_failures(client: Client, configure: Callable[..., None]) -> None:
    configure(FLEETVISOR_ORIGIN_VERIFY=SECRET)
    # In the canonical form the server records (a random group may start with 0, which it drops).
    viewer = str(ipaddress.ip_address(f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"))
    window = int(time.time()) // settings().throttle_window_seconds

    answer = client.http.post("/api/auth/login", body=json.dumps({"email": "nobody@example.com", "password": "x" * 12}),
                              headers={"Content-Type": "application/json", "X-Fleetvisor-Origin-Verify": SECRET,
                                       "CloudFront-Viewer-Address": f"{viewer}:50000"})

    assert answer.status_code == 401
    assert int(Throttle.get(f"src#{viewer}#{window}", consistent_read=True).failures) == 1
