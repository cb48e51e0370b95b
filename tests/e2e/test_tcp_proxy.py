"""The fault proxy itself, against a small real HTTP server: each mode does what the fault tests rely on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .tcp_proxy import TcpProxy


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/hold":  # a long poll: answered after a while
            time.sleep(1)
        self._answer(self.path.encode())

    def do_PUT(self) -> None:  # noqa: N802 - http.server's name
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream: int) -> Iterator[TcpProxy]:
    made = TcpProxy(upstream)
    yield made
    made.close()


@pytest.fixture
def http_proxy(upstream: int) -> Iterator[TcpProxy]:
    made = TcpProxy(upstream, http=True)
    yield made
    made.close()


def test_passing_forwards_both_ways_over_keep_alive(proxy: TcpProxy) -> None:
    with requests.Session() as session:
        assert [session.get(f"{proxy.url}/{n}", timeout=5).text for n in range(3)] == ["/0", "/1", "/2"]
    assert proxy.accepted == 1


def test_a_stall_holds_the_bytes_and_lets_them_flow_when_healed(proxy: TcpProxy) -> None:
    proxy.stall()
    answers: list[str] = []
    asking = threading.Thread(target=lambda: answers.append(requests.get(f"{proxy.url}/held", timeout=10).text))
    asking.start()
    time.sleep(0.5)
    assert not answers and proxy.live() == 1
    proxy.passing()
    asking.join(timeout=5)
    assert answers == ["/held"]


def test_a_stalled_request_times_out_on_the_client(proxy: TcpProxy) -> None:
    proxy.stall()
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{proxy.url}/x", timeout=(1, 0.3))


def test_reset_closes_live_and_new_connections_with_a_rst(proxy: TcpProxy) -> None:
    with requests.Session() as session:
        assert session.get(f"{proxy.url}/a", timeout=5).ok
        proxy.reset()
        time.sleep(0.3)
        assert proxy.live() == 0
        with pytest.raises(requests.ConnectionError, match="reset|aborted|RemoteDisconnected"):
            requests.get(f"{proxy.url}/b", timeout=5)
    assert proxy.resets >= 2


def test_delay_holds_every_chunk(proxy: TcpProxy) -> None:
    proxy.delay(0.3)
    started = time.monotonic()
    assert requests.get(f"{proxy.url}/slow", timeout=5).text == "/slow"
    assert time.monotonic() - started >= 0.6  # the request out and the answer back


def test_expired_puts_get_s3s_own_403_then_puts_pass(http_proxy: TcpProxy) -> None:
    http_proxy.expire_puts(1)
    with requests.Session() as session:
        url = f"{http_proxy.url}/results/r.json?X-Amz-Expires=900&X-Amz-Signature=abc"
        refused = session.put(url, data=b"{}", timeout=5)
        accepted = session.put(url, data=b'{"ok":true}', timeout=5)
        assert session.get(f"{http_proxy.url}/after", timeout=5).text == "/after"
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/xml"
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in refused.text
    assert (accepted.status_code, accepted.text) == (200, '{"ok":true}')
    assert http_proxy.requests == ["PUT /results/r.json", "PUT /results/r.json", "GET /after"]
    assert http_proxy.refused == ["PUT /results/r.json"]
    assert http_proxy.accepted == 3  # one request per connection, each one inspected


def test_expired_tokens_get_sqss_own_400_then_posts_pass(http_proxy: TcpProxy) -> None:
    http_proxy.expire_tokens(1)
    with requests.Session() as session:
        refused = session.post(f"{http_proxy.url}/", data=b'{"QueueUrl":"q"}', timeout=5)
        accepted = session.put(f"{http_proxy.url}/after", data=b"ok", timeout=5)
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert refused.json() == {"__type": "com.amazon.coral.service#ExpiredTokenException",
                              "message": "The security token included in the request is expired"}
    assert (accepted.status_code, accepted.text) == (200, "ok")
    assert http_proxy.requests == ["POST /", "PUT /after"]
    assert http_proxy.refused == ["POST /"]


def test_a_request_held_by_the_upstream_is_seen_as_waiting(proxy: TcpProxy) -> None:
    asking = threading.Thread(target=lambda: requests.get(f"{proxy.url}/hold", timeout=5))
    asking.start()
    time.sleep(0.5)
    assert proxy.waiting_for_answer(longer_than=0.3) == 1
    asking.join(timeout=5)
    assert proxy.waiting_for_answer(longer_than=0.0) == 0
