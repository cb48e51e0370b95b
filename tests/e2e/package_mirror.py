"""A datacentre's package mirror and HTTP proxy, on loopback, for a host that may not reach PyPI.

    with PackageMirror.serving(wheels_dir) as mirror:
        mirror.index_url      # http://127.0.0.1:PORT/simple/  (PEP 503: /simple/<project>/ lists its files)
        mirror.proxied        # "GET http://…" / "POST http://…": what it forwarded as a proxy, in order
        mirror.served         # paths it served from its own index

One server is both: a request line with an absolute URL (`GET http://…`, or
POST: an agent enrolling through the proxy) is a proxy request, forwarded (to
loopback only: 10.0.2.2, a QEMU guest's name for this machine, is mapped to
127.0.0.1) and recorded; any other path is the index. `agent_dependencies()`
downloads the wheels of the agent's dependencies once (pins from
agent/pyproject.toml; libvirt-python left out, hosts take it from
python3-libvirt) into the guest cache, so later runs need no network.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

from infra.local import REPO
from scripts.guest.debian_image import cache_dir

HOST_ALIASES = {"10.0.2.2": "127.0.0.1"}
FORWARDED_HEADERS = {"accept", "authorization", "content-type", "user-agent"}


def _project(filename: str) -> str:
    """PEP 503's normalised project name of a wheel file."""
    return re.sub(r"[-_.]+", "-", filename.split("-", 1)[0]).lower()


def agent_dependencies() -> Path:
    """A directory holding wheels of what the agent needs besides libvirt-python, for CPython 3.11 x86_64."""
    pyproject = tomllib.loads((REPO / "agent" / "pyproject.toml").read_text())
    wanted = [d for d in pyproject["project"]["dependencies"] if not d.startswith("libvirt-python")]
    key = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
    out = cache_dir() / f"agent-wheels-{key}"
    if (out / "done").is_file():
        return out
    scratch = out.with_name(out.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
                    "--platform", "manylinux_2_34_x86_64", "-d", str(scratch), *wanted],
                   check=True, timeout=600, capture_output=True)
    (scratch / "done").write_text("\n".join(wanted) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    scratch.rename(out)
    return out


class _Handler(BaseHTTPRequestHandler):
    mirror: PackageMirror

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith(("http://", "https://")):
            self._forward()
        else:
            self._index()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith("http://"):
            self._forward()
        else:
            self.send_error(405)

    def _forward(self) -> None:
        self.mirror.proxied.append(f"{self.command} {self.path}")
        parts = urlsplit(self.path)
        host = HOST_ALIASES.get(parts.hostname or "", parts.hostname or "")
        if host != "127.0.0.1":
            self.send_error(403, "this proxy reaches loopback only")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_HEADERS}
        answer = requests.request(self.command, parts._replace(netloc=f"{host}:{parts.port or 80}").geturl(),
                                  data=body or None, headers=headers, timeout=60, allow_redirects=False)
        self._send(answer.status_code, answer.content, answer.headers.get("Content-Type", "application/octet-stream"))

    def _index(self) -> None:
        self.mirror.served.append(self.path)
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        files = sorted(p.name for p in self.mirror.wheels.glob("*.whl"))
        if parts == ["simple"]:
            links = sorted({_project(f) for f in files})
            self._page([(f"{name}/", name) for name in links])
        elif len(parts) == 2 and parts[0] == "simple":
            self._page([(f"../../files/{f}", f) for f in files if _project(f) == parts[1]])
        elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
            self._send(200, (self.mirror.wheels / parts[1]).read_bytes(), "application/octet-stream")
        else:
            self.send_error(404)

    def _page(self, links: list[tuple[str, str]]) -> None:
        if not links:
            self.send_error(404)
            return
        body = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>\n' for href, text in links)
        self._send(200, f"<!DOCTYPE html><html><body>\n{body}</body></html>\n".encode(), "text/html")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


class PackageMirror:
    def __init__(self, wheels: Path) -> None:
        self.wheels = wheels
        self.proxied: list[str] = []
        self.served: list[str] = []
        handler = type("Handler", (_Handler,), {"mirror": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.server_address[1])

    @classmethod
    @contextlib.contextmanager
    def serving(cls, wheels: Path) -> Iterator[PackageMirror]:
        mirror = cls(wheels)
        thread = threading.Thread(target=mirror.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield mirror
        finally:
            mirror.server.shutdown()
            mirror.server.server_close()

    def url_from(self, host: str) -> str:
        return f"http://{host}:{self.port}"
