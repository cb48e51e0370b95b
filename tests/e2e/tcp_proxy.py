"""A small threaded TCP proxy that breaks the network on purpose, for the fault tests.

It sits between the agent and the API, or between the agent and S3 (moto),
and does what a bad network does, to live connections and to new ones alike:

- `passing()`: bytes flow both ways.
- `stall()`: connections are accepted, but no byte moves in either direction
  (nothing is read, so what was sent waits in the kernel's buffers); when the
  proxy passes again the held bytes flow on, as after a short partition that
  TCP rides out.
- `reset()`: every live connection and every new one is closed with a RST.
- `delay(seconds)`: every chunk waits that long before it is forwarded.
- `expire_puts(n)` (HTTP-aware proxies only): the next `n` PUTs are answered
  as S3 answers a presigned URL past its expiry, `403 AccessDenied` "Request
  has expired", and never reach the upstream.
- `expire_tokens(n)` (HTTP-aware proxies only): the next `n` POSTs are
  answered as SQS answers a call signed with expired session credentials,
  `400 ExpiredTokenException`, and never reach the upstream.

An HTTP-aware proxy (`http=True`) reads each request's head before it
forwards anything, records its method and path in `requests`, and makes each
connection carry one request (`Connection: close`), so that every request
passes its inspection even through a client's keep-alive pool.

Each connection is served by one thread that waits on both sockets with a
short select timeout, so a change of mode reaches a waiting connection within
0.1 s and no thread ever closes a socket that another one is using.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
TICK = 0.1
CHUNK = 65536
MAX_HEAD = 64 * 1024
EXPIRED_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
    "<X-Amz-Expires>{expires}</X-Amz-Expires><Expires>{expired_at}</Expires><ServerTime>{now}</ServerTime>"
    "<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
)


class _Closed(Exception):
    """The connection is over: a peer closed it, or the proxy reset it."""


@dataclass(eq=False)  # each link is itself, whatever it holds: links live in a set
class Link:
    """One client connection and its upstream; `asked_at` is when the client last sent bytes that have
    not been answered yet (a request in flight), else None."""

    client: socket.socket
    upstream: socket.socket | None = None
    asked_at: float | None = None
    answer_head: bytes | None = None  # HTTP-aware: the answer's head as it arrives, until it is rewritten
    opened_at: float = field(default_factory=time.monotonic)


class TcpProxy:
    def __init__(self, upstream_port: int | None = None, *, http: bool = False) -> None:
        self.upstream_port = upstream_port
        self.http = http
        self.accepted = 0  # connections accepted so far
        self.resets = 0  # connections this proxy closed with a RST
        self.requests: list[str] = []  # HTTP-aware: "METHOD /path" of every request seen, in order
        self.refused: list[str] = []  # HTTP-aware: "METHOD /path" of the requests answered here (expired)
        self._mode = "pass"
        self._delay = 0.0
        self._expire = 0
        self._expire_tokens = 0
        self._links: set[Link] = set()
        self._lock = threading.Condition()
        self._closing = False
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- modes -------------------------------------------------------------------------------------

    def passing(self) -> None:
        self._set("pass")

    def stall(self) -> None:
        self._set("stall")

    def reset(self) -> None:
        self._set("reset")

    def delay(self, seconds: float) -> None:
        self._set("pass", delay=seconds)

    def expire_puts(self, count: int = 1) -> None:
        if not self.http:
            raise ValueError("only an HTTP-aware proxy answers PUTs")
        with self._lock:
            self._expire = count

    def expire_tokens(self, count: int = 1) -> None:
        if not self.http:
            raise ValueError("only an HTTP-aware proxy answers POSTs")
        with self._lock:
            self._expire_tokens = count

    def _set(self, mode: str, delay: float = 0.0) -> None:
        with self._lock:
            self._mode, self._delay = mode, delay
            self._lock.notify_all()

    def close(self) -> None:
        self._set("reset")
        with self._lock:
            self._closing = True
        self._listener.close()

    # -- what the tests look at ----------------------------------------------------------------------

    def live(self) -> int:
        with self._lock:
            return len(self._links)

    def waiting_for_answer(self, longer_than: float) -> int:
        """Connections whose client has waited this long for an answer: a long poll in flight."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for link in self._links if link.asked_at is not None and now - link.asked_at >= longer_than)

    # -- serving -----------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = Link(client)
            with self._lock:
                self.accepted += 1
                self._links.add(link)
            threading.Thread(target=self._serve, args=(link,), daemon=True).start()

    def _serve(self, link: Link) -> None:
        try:
            if self.http:
                self._first_request(link)
            else:
                self._connect(link)
            self._pump(link)
        except _Closed:
            pass
        except OSError:
            pass  # a peer went away mid-write: the connection is over either way
        finally:
            self._finish(link)

    def _flowing(self, *, forwarding: bool = False) -> None:
        """Wait while stalled; raise _Closed when the proxy resets connections. Before `forwarding` a chunk,
        also wait out the delay."""
        with self._lock:
            while self._mode == "stall":
                self._lock.wait(TICK)
            if self._mode == "reset":
                raise _Closed("reset")
            delay = self._delay if forwarding else 0.0
        if delay:
            time.sleep(delay)

    def _connect(self, link: Link, first: bytes = b"") -> None:
        self._flowing(forwarding=True)
        if self.upstream_port is None:
            raise _Closed("no upstream")
        try:
            link.upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=5)
        except OSError as exc:
            raise _Closed("upstream refused") from exc
        link.upstream.settimeout(None)
        link.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if first:
            link.upstream.sendall(first)
            link.asked_at = time.monotonic()

    def _pump(self, link: Link) -> None:
        assert link.upstream is not None
        sockets = [link.client, link.upstream]
        while True:
            self._flowing()
            ready, _, _ = select.select(sockets, [], [], TICK)
            for source in ready:
                data = source.recv(CHUNK)
                if not data:
                    raise _Closed("peer closed")
                self._flowing(forwarding=True)
                if source is link.client:
                    link.upstream.sendall(data)
                    link.asked_at = link.asked_at or time.monotonic()
                    continue
                if link.answer_head is not None:
                    data = self._answer_closing(link, data)
                link.asked_at = None  # before the client can see the answer and ask who still waits
                link.client.sendall(data)

    def _answer_closing(self, link: Link, data: bytes) -> bytes:
        """Hold the answer until its head is whole, then let it through saying `Connection: close`."""
        held = (link.answer_head or b"") + data
        if b"\r\n\r\n" not in held:
            link.answer_head = held
            return b""
        link.answer_head = None
        head, rest = held.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        return _closing(status_line, header_lines) + rest

    def _finish(self, link: Link) -> None:
        with self._lock:
            self._links.discard(link)
            rst = self._mode == "reset"
            if rst:
                self.resets += 1
        for sock in (link.client, link.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                if rst:  # SO_LINGER 0: close() sends a RST instead of a FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    # -- HTTP-aware --------------------------------------------------------------------------------

    def _first_request(self, link: Link) -> None:
        """Read the request head; answer an expired PUT or POST here, else forward it with `Connection: close`."""
        self._flowing()
        head, rest = self._read_head(link.client)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        answer = self._answer_here(f"{method} {urlsplit(target).path}", target)
        if answer is not None:
            self._drain_body(link.client, header_lines, rest)
            link.client.sendall(answer)
            raise _Closed("answered here")
        # The answer will say so too (see _pump), or the client would send its next request down a
        # connection about to close.
        link.answer_head = b""
        self._connect(link, _closing(request_line, header_lines) + rest)

    def _answer_here(self, request: str, target: str) -> bytes | None:
        """Record the request; the answer it gets here instead of the upstream's, if any."""
        with self._lock:
            self.requests.append(request)
            if request.startswith("PUT ") and self._expire > 0:
                self._expire -= 1
                answer = _expired_answer(target)
            elif request.startswith("POST ") and self._expire_tokens > 0:
                self._expire_tokens -= 1
                answer = _expired_token_answer()
            else:
                return None
            self.refused.append(request)
            return answer

    def _read_head(self, sock: socket.socket) -> tuple[bytes, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD:
                raise _Closed("head too large")
            data += self._recv(sock)
        head, rest = data.split(b"\r\n\r\n", 1)
        return head, rest

    def _drain_body(self, sock: socket.socket, header_lines: list[str], rest: bytes) -> None:
        length = next((int(line.split(":", 1)[1]) for line in header_lines
                       if line.lower().startswith("content-length:")), 0)
        received = len(rest)
        while received < length:
            received += len(self._recv(sock))

    def _recv(self, sock: socket.socket) -> bytes:
        while True:
            self._flowing()
            ready, _, _ = select.select([sock], [], [], TICK)
            if ready:
                data = sock.recv(CHUNK)
                if not data:
                    raise _Closed("client closed")
                return data


def _closing(first_line: str, header_lines: list[str]) -> bytes:
    """A message head that says `Connection: close`, whatever it said before."""
    kept = [line for line in header_lines if line and not line.lower().startswith(("connection:", "keep-alive:"))]
    return "\r\n".join([first_line, *kept, "Connection: close", "", ""]).encode("latin-1")


def _expired_answer(target: str) -> bytes:
    """S3's own answer to a presigned URL used after its X-Amz-Date + X-Amz-Expires."""
    query = parse_qs(urlsplit(target).query)
    expires = query.get("X-Amz-Expires", ["900"])[0]
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    body = EXPIRED_BODY.format(expires=expires, expired_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1)),
                               now=stamp, request_id=uuid.uuid4().hex[:16].upper(),
                               host_id=uuid.uuid4().hex).encode()
    head = ("HTTP/1.1 403 Forbidden\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Date: {formatdate(now, usegmt=True)}\r\n"
            "Server: AmazonS3\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + body


def _expired_token_answer() -> bytes:
    """SQS's answer (JSON protocol) to a call signed with session credentials past their expiry."""
    body = json.dumps({"__type": "com.amazon.coral.service#ExpiredTokenException",
                       "message": "The security token included in the request is expired"}).encode()
    head = ("HTTP/1.1 400 Bad Request\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + body
