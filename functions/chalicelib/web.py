"""The HTTP edge: request parsing, authentication hook and the one place where
domain errors become JSON responses.

Every route is declared through `route()`, so each one percent-decodes its
path parameters once, caps and parses its body the same way and answers
errors in the shape `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response
from chalice.app import Request

from . import ids, store
from .errors import FleetvisorError, Invalid, InvalidFields, PayloadTooLarge
from .settings import settings

log = logging.getLogger("fleetvisor")

MAX_BODY = 256 * 1024
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}
# Behind CloudFront the connection is CloudFront's; the distribution adds the viewer's `ip:port` and our
# origin secret (a caller reaching API Gateway directly can send the first, not the second).
VIEWER_ADDRESS = "cloudfront-viewer-address"
ORIGIN_VERIFY = "x-fleetvisor-origin-verify"

# Chalice answers some errors itself ({"Code": ..., "Message": ...}); these give
# them our stable codes.
_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequestError": "invalid_request",
    "InternalServerError": "internal_error",
    "BadRequest": "invalid_request",
}


@dataclass
class Call:
    """What a view sees of one request."""

    request: Request
    params: dict[str, str]
    max_body: int
    principal: Any = None
    # Items read together with the caller's credentials, by model (see auth.guard.requires).
    ahead: dict[Any, Any] = field(default_factory=dict)
    # Done once the view has answered without an error: records of what the call did (an admin's read of
    # another owner's objects is audited when it reads, not when a later check refuses the call).
    on_success: list[Callable[[], None]] = field(default_factory=list)
    _body: dict[str, Any] | None = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        if self._body is None:
            raw = self.request.raw_body or b""
            self._body = parse_json(raw.encode() if isinstance(raw, str) else raw, self.max_body)
        return self._body

    def query(self, name: str) -> str | None:
        params = self.request.query_params
        return params.get(name) if params else None

    def cookie(self, name: str) -> str | None:
        jar = SimpleCookie()
        try:
            jar.load(str(self.request.headers.get("cookie", ""))[:8192])
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    @property
    def source_ip(self) -> str:
        """Who is calling, for the login throttle and the audit trail: the viewer's address when the
        request provably came through our CloudFront distribution, otherwise the connection's."""
        if self._through_our_distribution():
            viewer = viewer_ip(str(self.request.headers.get(VIEWER_ADDRESS, "")))
            if viewer is not None:
                return viewer
        identity = (self.request.context or {}).get("identity") or {}
        return str(identity.get("sourceIp", ""))

    def _through_our_distribution(self) -> bool:
        secret = settings().origin_verify
        if not secret:
            return False
        given = str(self.request.headers.get(ORIGIN_VERIFY, ""))
        # Constant time, so the secret cannot be guessed a byte at a time from response times.
        return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8"))

    @property
    def user_agent(self) -> str:
        return str(self.request.headers.get("user-agent", ""))[:300]


def viewer_ip(value: str) -> str | None:
    """The IP in a CloudFront-Viewer-Address value, or None unless it is exactly `ip:port`.

    CloudFront writes IPv6 unbracketed (`2001:db8::1:443`: the last group is the port, which is always
    there); `[2001:db8::1]:443` is taken too. An IPv4-mapped IPv6 address is answered as the IPv4 one,
    so one viewer has one throttle counter.
    """
    value = value.strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
    else:
        host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit() and len(port) <= 5) or int(port) > 65535 or "%" in host:
        return None  # no port, a bad one, or an IPv6 zone id (a link-local name, never a viewer)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def parse_json(raw: bytes, max_body: int) -> dict[str, Any]:
    """The body as a JSON object, or 400 `invalid_json`: also for what Python's parser lets through but
    JSON and the store cannot hold (NaN, Infinity, a number that overflows to infinity such as 1e400,
    a lone surrogate such as "\\ud800", which has no UTF-8 form)."""
    if len(raw) > max_body:
        raise PayloadTooLarge(f"The request body is larger than {max_body} bytes.")
    try:
        value = json.loads(raw.decode("utf-8") or "{}", parse_constant=_no_constants, parse_float=_finite)
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")  # lone surrogates
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise Invalid("The request body is not valid UTF-8 JSON.", "invalid_json") from exc
    if not isinstance(value, dict):
        raise Invalid("The request body must be a JSON object.", "invalid_json")
    return value


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(error: FleetvisorError) -> Response:
    body = error_body(error.code, error.message)
    if isinstance(error, InvalidFields):
        body["error"]["fields"] = error.fields
    return json_response(error.status, body, error.headers)


@dataclass
class Reply:
    """A view's answer when it needs another status or headers (cookies) than the route's."""

    body: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(body=to_json(body), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def to_json(body: Any) -> str:
    """Strict JSON, never NaN or Infinity (which JSON.parse refuses, so one stored bad number would
    make a whole list unloadable). parse_json keeps them out now; one stored before that check is
    dropped on the way out: it answers null, and the log says where."""
    try:
        return json.dumps(body, allow_nan=False)
    except ValueError:
        log.warning("a non-finite number in an answer was sent as null")
        return json.dumps(_without_non_finite(body), allow_nan=False)


def _without_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _without_non_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_non_finite(item) for item in value]
    return value


def route(bp: Blueprint, path: str, methods: Iterable[str] = ("GET",), *,
          authenticate: Callable[[Call], Any] | None = None, status: int = 200,
          max_body: int = MAX_BODY) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    """Register `fn(call) -> body` as a route that answers JSON with `status`."""

    def decorate(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
        def view(**params: str) -> Response:
            call = Call(bp.current_request, {k: unquote(v) for k, v in params.items()}, max_body)
            try:
                # Ids not of their documented form name nothing: refused before any store call, the
                # credential read included (ids.py).
                ids.check_path(call.params)
                # A read or an unconditional write the store throttled past botocore's retries is a 503
                # with Retry-After, like a throttled conditional write (store.race), not a 500.
                with store.busy_if_throttled():
                    if authenticate is not None:
                        call.principal = authenticate(call)
                    result = fn(call)
                    for done in call.on_success:
                        done()
            except FleetvisorError as exc:
                return error_response(exc)
            if isinstance(result, Reply):
                return json_response(result.status or status, result.body, result.headers)
            return json_response(status, result)

        view.__name__ = fn.__name__
        ids.known(path)
        bp.route(path, methods=list(methods), content_types=["application/json"])(view)
        return fn

    return decorate


def error_shape_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Give Chalice's own error answers (405, 415, 500) our JSON error shape."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = _CHALICE_CODES.get(str(body["Code"]), "error")
        message = str(body.get("Message", ""))
        if code == "internal_error":
            message = "An internal error occurred; it has been logged."
        response.body = json.dumps(error_body(code, message))
        response.headers = {**response.headers, **JSON_HEADERS}
    return response
