"""AWS Signature Version 4 for the agent's own calls to AWS (its SQS queue), without botocore.

Pure functions over hashlib and hmac, following AWS's documented rules
("Create a signed AWS API request"): the canonical request is the method, the
canonical URI (path normalized, each segment URI-encoded twice: once on the
wire, once here, as for every service but S3), the canonical query string
(sorted, RFC 3986 encoded), the signed headers (lower-cased names, trimmed
values, sorted) and the hex SHA-256 of the payload; it is signed with a key
derived from the secret through date, region, service and "aws4_request".

The time is an argument: the agent signs with its estimate of server time
(`ServerClock`), so that a host whose clock is minutes off is not refused as
`RequestExpired` (AWS allows 5 minutes of skew).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
# Credentials are renewed this long before they expire, so that no long poll outlives them.
REFRESH_MARGIN = 300.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Credentials:
    """Temporary AWS credentials (STS), with when they expire (Unix seconds, AWS's clock)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None

    def needs_refresh(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """True from `margin` seconds before expiry on (never, for credentials without an expiry)."""
        return self.expires_at is not None and now >= self.expires_at - margin

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, *, service: str, region: str,
         credentials: Credentials, now: float) -> dict[str, str]:
    """The headers to send: `headers`, plus Host, X-Amz-Date, X-Amz-Security-Token (with a session token)
    and Authorization. Every header passed in is signed, so pass only those the request will carry as given
    (not User-Agent, which proxies may rewrite)."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    signed = {name.lower(): value for name, value in headers.items()}
    signed["host"] = _host(url)
    signed["x-amz-date"] = amz_date
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    request = canonical_request(method, url, signed, body)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, _sha256_hex(request.encode())])
    key = signing_key(credentials.secret_access_key, amz_date[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
                     f"SignedHeaders={signed_header_names(signed)}, Signature={signature}")
    out = {**headers, "Host": signed["host"], "X-Amz-Date": amz_date, "Authorization": authorization}
    if credentials.session_token:
        out["X-Amz-Security-Token"] = credentials.session_token
    return out


def canonical_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> str:
    """AWS's canonical request; `headers` are the ones signed, names lower-cased."""
    parts = urlsplit(url)
    canonical_headers = "".join(f"{name}:{_trim(headers[name])}\n" for name in sorted(headers))
    return "\n".join([method.upper(), canonical_uri(parts.path), canonical_query(parts.query),
                      canonical_headers, signed_header_names(headers), _sha256_hex(body)])


def canonical_uri(path: str) -> str:
    """The path without empty, `.` and `..` segments (a trailing slash kept), URI-encoded again."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_query(query: str) -> str:
    """Each name and value decoded, then encoded as RFC 3986 unreserved-only; sorted by name, then value."""
    pairs = []
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> str:
    return ";".join(sorted(name.lower() for name in headers))


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """HMAC chain: "AWS4" + secret → date (YYYYMMDD) → region → service → "aws4_request"."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _host(url: str) -> str:
    """The Host header as HTTP clients send it: lower-case, the port only when it is not the scheme's."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _trim(value: str) -> str:
    return " ".join(value.split())


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
