"""The agent as hosts download it: its wheel and the install script that pins it.

The wheel is built by `scripts/setup.sh` into `wheel/` beside this module
(Chalice packages only chalicelib/, so it has to live here; it is git-ignored
and never committed). The script is `install.sh` beside this module with four
values filled in: the control plane's URL, the agent's version, the wheel's
file name and its sha256. The script refuses a wheel with any other sha256.

Which URL goes into the script, and why the Host header may be used:
- `FLEETVISOR_PUBLIC_URL`, when set, is the only answer; the request's Host is
  not looked at. Deployed stages set it: behind CloudFront the Host that
  reaches the API is API Gateway's own domain, not the one hosts should use.
- Without it (the local stack, a bare API Gateway) the URL is the one the
  caller used: `X-Forwarded-Proto` (else http), `Host`, and the path prefix in
  front of `/agent/install.sh` (API Gateway's stage). Trusting Host is safe
  here because the script goes back only to the caller who sent that Host: a
  forged one misleads only the forger. What could spread it to others is a
  shared cache, so every answer is `Cache-Control: no-store` and varies on
  those headers. The values are also held to strict patterns, because they
  are written into a shell script: nothing but host-name, port and path
  characters gets in.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FleetvisorError, Invalid, NotFound

HERE = Path(__file__).resolve().parent
WHEEL_DIR = HERE / "wheel"
TEMPLATE = HERE / "install.sh"
SCRIPT_PATH = "/agent/install.sh"

# All matched whole (fullmatch): `$` would let a trailing newline through.
WHEEL_NAME_RE = re.compile(r"fleetvisor_agent-(?P<version>[0-9A-Za-z.+]+)-py3-none-any\.whl")
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::[0-9]{1,5})?"
_PREFIX = r"(?:/[A-Za-z0-9._~-]+)*"
HOST_RE = re.compile(_HOST)
PREFIX_RE = re.compile(_PREFIX)
URL_RE = re.compile(rf"https?://{_HOST}{_PREFIX}")


class PackageMissing(FleetvisorError):
    status = 503
    code = "agent_package_missing"


class PublicUrlInvalid(FleetvisorError):
    code = "public_url_invalid"


@dataclass(frozen=True)
class AgentPackage:
    filename: str
    version: str
    sha256: str
    data: bytes


@functools.lru_cache(maxsize=1)
def agent_package() -> AgentPackage:
    """The one wheel in wheel/, read once per process."""
    wheels = [(p, m) for p in sorted(WHEEL_DIR.glob("*.whl")) if (m := WHEEL_NAME_RE.fullmatch(p.name))]
    if len(wheels) != 1:
        raise PackageMissing(f"The agent package is not built here ({len(wheels)} wheels in the function's "
                             "package; scripts/setup.sh builds exactly one).")
    path, match = wheels[0]
    data = path.read_bytes()
    return AgentPackage(path.name, match["version"], hashlib.sha256(data).hexdigest(), data)


def wheel(filename: str) -> AgentPackage:
    """The package when `filename` is exactly its name; anything else is not found (no path is built from it)."""
    package = agent_package()
    if filename != package.filename:
        raise NotFound(f"No agent file {filename[:100]!r}; the agent is {package.filename}.", "agent_file_not_found")
    return package


def control_plane_url(public_url: str, *, host: str | None, forwarded_proto: str | None, path: str) -> str:
    """The URL hosts should use: the configured one, else the one this request came in on."""
    if public_url:
        url = public_url.rstrip("/")
        if not URL_RE.fullmatch(url):
            raise PublicUrlInvalid("FLEETVISOR_PUBLIC_URL is not a usable http(s) URL.")
        return url
    scheme = (forwarded_proto or "http").split(",")[0].strip().lower()
    prefix = path[: -len(SCRIPT_PATH)] if path.endswith(SCRIPT_PATH) else ""
    if scheme not in ("http", "https") or not HOST_RE.fullmatch(host or "") or not PREFIX_RE.fullmatch(prefix):
        raise Invalid("The request's Host (or X-Forwarded-Proto) cannot name this control plane; "
                      "ask through its address, or set FLEETVISOR_PUBLIC_URL.", "invalid_host")
    return f"{scheme}://{host}{prefix}"


def install_script(url: str) -> str:
    """install.sh with this control plane's URL and the wheel it pins."""
    package = agent_package()
    values = {"CONTROL_PLANE_URL": url, "AGENT_VERSION": package.version, "WHEEL_NAME": package.filename,
              "WHEEL_SHA256": package.sha256}
    return render(_template(), values)


def render(template: str, values: dict[str, str]) -> str:
    """Fill each @@NAME@@ (each appears once, inside single quotes); values are checked not to leave them."""
    for name, value in values.items():
        placeholder = f"@@{name}@@"
        if template.count(placeholder) != 1 or not _SAFE_VALUE.fullmatch(value):
            raise FleetvisorError(f"Cannot fill {placeholder} in the install script.")
        template = template.replace(placeholder, value)
    return template


# What may stand between single quotes in the script: URL, version, file name and hex characters only.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9.:/_+~\[\]-]+")


@functools.lru_cache(maxsize=1)
def _template() -> str:
    return TEMPLATE.read_text(encoding="utf-8")
