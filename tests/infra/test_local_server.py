"""The local server's own refusals (http.server's, before any route) keep the JSON error shape."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from chalice import Chalice
from chalice.config import Config

from infra.local_server import FleetvisorHandler


def _exchange(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """One connection through the handler (no app route is reached by these requests)."""
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.create_connection(listener.getsockname()) as caller:
        served, address = listener.accept()
        caller.sendall(raw)
        caller.shutdown(socket.SHUT_WR)
        with served:
            FleetvisorHandler(served, address, Any, Chalice("probe"), Config())  # type: ignore[arg-type]
        answer = b"".join(iter(lambda: caller.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "BREW", "CONNECT"])
@pytest.mark.parametrize("path", ["/api/agents", "/agent/v1/heartbeat", "/"])
def test_methods_the_server_does_not_serve_are_405_json(method: str, path: str) -> None:
    status, headers, body = _exchange(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (status, headers["content-type"]) == (405, "application/json")
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "uri_too_long"),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(120)) + b"\r\n", 431, "headers_too_large"),
    (b"NONSENSE\r\n\r\n", 400, "invalid_request"),
])
def test_malformed_requests_are_json_too(raw: bytes, status: int, code: str) -> None:
    answered, headers, body = _exchange(raw)
    assert (answered, headers["content-type"], json.loads(body)["error"]["code"]) == (status, "application/json", code)
