"""The local API server: the Chalice app in Chalice's own threaded server,
plus what API Gateway and CloudFront do in AWS.

- `/api/*` and `/agent/*` go to the app; an unknown route answers
  404 `route_not_found` in our error shape (API Gateway's GatewayResponses do
  the same in AWS), and bodies over MAX_BODY are refused before they are read.
- everything else is the built web app, with `index.html` for unknown paths
  so client-side routes survive a reload.

Run: `python -m infra.local_server --port 8000 --spa frontend/dist` with the
AWS endpoint variables pointing at dynalite and moto. With FLEETVISOR_METER_FILE
set, `infra/meter.py` counts every request and AWS call (bench/cost.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import mimetypes
import os
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from chalice.cli.factory import CLIFactory
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGatewayException,
    ThreadedHTTPServer,
)

from infra.browser_headers import aws_s3_origin, origin_of, security_headers
from infra.meter import METER_FILE_ENV, Meter

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"
MAX_BODY = 2 * 1024 * 1024
API_PREFIXES = ("/api/", "/agent/")


# Codes for what http.server itself refuses (send_error), by status.
_HTTP_SERVER_CODES: dict[int, str] = {HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
                                      HTTPStatus.REQUEST_URI_TOO_LONG: "uri_too_long",
                                      HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "headers_too_large"}


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class FleetvisorHandler(ChaliceRequestHandler):
    # Without this every keep-alive request waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    spa_dir: Path | None = None
    meter: Meter | None = None
    # What CloudFront's response-headers policy adds in AWS (infra/browser_headers.py), on every answer here.
    browser_headers: dict[str, str] = {}
    overridden: frozenset[str] = frozenset()  # their names, lowercased

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() not in self.overridden:  # ours override the app's, as CloudFront's do in AWS
            super().send_header(keyword, value)

    def end_headers(self) -> None:
        for name, value in self.browser_headers.items():
            super().send_header(name, value)
        super().end_headers()

    def _route(self) -> None:
        if self.meter is None:
            self._serve()
            return
        with self.meter.request(self.command, self.path):
            self._serve()

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIXES):
            self._api()
        elif self.command in ("GET", "HEAD"):
            self._static(path)
        else:
            self._send_bytes(404, _error("route_not_found", "No such route."), "application/json")

    def _api(self) -> None:
        try:
            length = int(self.headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send_bytes(413, _error("payload_too_large", "The request body is too large."),
                             "application/json")
            return
        self._generic_handle()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a method with no do_ handler, a malformed request line, an
        over-long line or too many headers) in our JSON error shape, not its HTML page. A method we do
        not serve at all (TRACE, PROPFIND, anything made up) is 405 `method_not_allowed`, as the app
        answers a method a route does not take."""
        self.close_connection = True  # the body (if any) was not read
        # A request line it could not read leaves HTTP/0.9, which would get neither status line nor headers.
        if self.request_version == "HTTP/0.9":  # type: ignore[has-type]
            self.request_version = self.protocol_version
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"The method {str(self.command)[:20]} is not allowed."
        error = _HTTP_SERVER_CODES.get(code, "invalid_request")
        self._send_bytes(code, _error(error, (message or HTTPStatus(code).phrase)[:200]), "application/json",
                         {"Connection": "close"})

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # Chalice mimics API Gateway's 403 "Missing Authentication Token" for unknown routes.
        self._send_bytes(404, _error("route_not_found", "No such route."), "application/json")

    def _static(self, path: str) -> None:
        root = self.spa_dir
        if root is None or not (root / "index.html").is_file():
            self._send_bytes(503, b"The web app is not built; run `make up`.", "text/plain")
            return
        target = (root / path.lstrip("/")).resolve()
        if not target.is_file() or root.resolve() not in target.parents:
            target = root / "index.html"
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        cache = "no-cache" if target.name == "index.html" else "public, max-age=31536000, immutable"
        self._send_bytes(200, target.read_bytes(), kind, {"Cache-Control": cache})

    def _send_bytes(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        logging.getLogger("fleetvisor.http").info("%s %s", self.address_string(), format % args)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _route


class BurstServer(ThreadedHTTPServer):
    """Chalice's threaded server with a listen backlog for bursts: Python's default of 5 reset 13 of 50
    concurrent logins and timed out 5 of 200 concurrent reads (bench/concurrency.py measures it)."""

    request_queue_size = 1024


def make_server(host: str, port: int, spa_dir: Path | None, stage: str = "local",
                meter: Meter | None = None) -> LocalDevServer:
    factory = CLIFactory(project_dir=str(FUNCTIONS))
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    if meter is not None:
        meter.know_routes(list(app.routes))
    # Presigned URLs name the public S3 endpoint when one is set, else the one the API itself uses.
    s3_endpoint = os.environ.get("FLEETVISOR_S3_PUBLIC_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL", "")
    s3_origin = origin_of(s3_endpoint) if s3_endpoint else aws_s3_origin(os.environ.get("AWS_DEFAULT_REGION", ""))
    headers = security_headers(s3_origin, https=False)
    handler = type("Handler", (FleetvisorHandler,), {"spa_dir": spa_dir, "meter": meter, "browser_headers": headers,
                                                     "overridden": frozenset(name.lower() for name in headers)})
    return LocalDevServer(app, config, host, port, handler_cls=handler, server_cls=BurstServer)


def start_sweeper(seconds: float) -> threading.Thread:
    """Locally, what the scheduled Lambda does in AWS: retire lapsed leases and undelivered jobs."""
    from chalicelib.jobs import lifecycle  # noqa: PLC0415 - imported once the app has set its environment

    def loop() -> None:
        while True:
            time.sleep(seconds)
            try:
                lifecycle.sweep()
            except Exception:  # noqa: BLE001 - the next round tries again; the error is logged
                logging.getLogger("fleetvisor.sweep").exception("sweep failed")

    thread = threading.Thread(target=loop, name="sweeper", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--spa", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="api: %(message)s")
    meter = None
    if os.environ.get(METER_FILE_ENV):
        meter = Meter(Path(os.environ[METER_FILE_ENV]))
        meter.install()  # before the app is loaded, so that every AWS client it makes is watched
    server = make_server(args.host, args.port, args.spa, meter=meter)
    start_sweeper(float(os.environ.get("FLEETVISOR_SWEEP_SECONDS", "15")))
    print(f"api: serving on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
