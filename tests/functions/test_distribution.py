"""GET /agent/install.sh and the agent's wheel: what hosts download, unauthenticated."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import zipfile
from typing import Any

import pytest
from chalice.test import Client
from chalicelib.distribution import package

OCTETS = {"Accept": "application/octet-stream"}


def _pinned(script: str, name: str) -> str:
    match = re.search(rf"^readonly {name}='([^']*)'$", script, re.MULTILINE)
    assert match, name
    return match.group(1)


def test_install_script_is_plain_text_and_names_the_control_plane_it_came_from(client: Client) -> None:
    answer = client.http.get("/agent/install.sh", headers={"Host": "fleet.example.test:8443",
                                                           "X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    script = answer.body.decode()
    assert script.startswith("#!/usr/bin/env bash\n") and script.rstrip().endswith('main "$@"')
    assert _pinned(script, "CONTROL_PLANE_URL") == "https://fleet.example.test:8443"
    assert "@@" not in script
    # ShellCheck (from scripts/setup.sh's apt list) over what hosts really run, values filled in.
    checked = subprocess.run(["shellcheck", "-s", "bash", "-"], input=script, capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout


def test_the_script_pins_the_sha256_of_the_wheel_that_is_served(client: Client) -> None:
    script = client.http.get("/agent/install.sh", headers={"Host": "127.0.0.1:8000"}).body.decode()
    name = _pinned(script, "WHEEL_NAME")
    answer = client.http.get(f"/agent/{name}", headers=OCTETS)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert hashlib.sha256(answer.body).hexdigest() == _pinned(script, "WHEEL_SHA256")
    wheel = zipfile.ZipFile(io.BytesIO(answer.body))
    version = _pinned(script, "AGENT_VERSION")
    metadata = wheel.read(f"fleetvisor_agent-{version}.dist-info/METADATA").decode()
    assert "Name: fleetvisor-agent" in metadata and f"Version: {version}" in metadata
    assert f"fleetvisor_agent-{version}.data/data/share/fleetvisor-agent/fleetvisor-agent.service" in wheel.namelist()


@pytest.mark.parametrize("name", [
    "fleetvisor_agent-0.0.1-py3-none-any.whl",  # another version
    "install.sh.bak",
    "wheel",
    ".fv-stamp",
    "..%2Fsettings.py",
    "%2E%2E%2F%2E%2E%2Fapp.py",
    "wheel%2F.fv-stamp",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
])
def test_no_other_file_is_served(client: Client, name: str) -> None:
    answer = client.http.get(f"/agent/{name}", headers=OCTETS)
    assert answer.status_code == 404
    assert answer.json_body["error"]["code"] == "agent_file_not_found"


@pytest.mark.parametrize("headers", [
    {"Host": "x';touch /tmp/owned;'"},
    {"Host": "fleet.example.test/$(id)"},
    {"Host": "fleet.example.test", "X-Forwarded-Proto": "ftp"},
    {"Host": ""},
    {"Host": "fleet.example.test\n"},
])
def test_a_host_header_that_is_not_a_host_name_is_refused(client: Client, headers: dict[str, str]) -> None:
    answer = client.http.get("/agent/install.sh", headers=headers)
    assert answer.status_code == 400
    assert answer.json_body["error"]["code"] == "invalid_host"


def test_the_configured_public_url_wins_over_the_request() -> None:
    url = package.control_plane_url("https://fleet.example.com/", host="evil.example", forwarded_proto="http",
                                    path="/agent/install.sh")
    assert url == "https://fleet.example.com"


@pytest.mark.parametrize("configured", ["fleet.example.com", "https://fleet.example.com/'$(id)'",
                                        "ftp://fleet.example.com", "https://fleet example.com",
                                        "https://fleet.example.com\n"])
def test_an_unusable_public_url_is_a_configuration_error(configured: str) -> None:
    with pytest.raises(package.PublicUrlInvalid):
        package.control_plane_url(configured, host="fleet.example.com", forwarded_proto=None,
                                  path="/agent/install.sh")


def test_the_api_gateway_stage_prefix_is_kept() -> None:
    url = package.control_plane_url("", host="abc.execute-api.eu-west-1.amazonaws.com", forwarded_proto="https",
                                    path="/api/agent/install.sh")
    assert url == "https://abc.execute-api.eu-west-1.amazonaws.com/api"


def test_the_script_template_fills_every_value_once() -> None:
    with pytest.raises(Exception, match="Cannot fill"):
        package.render("A='@@X@@' B='@@X@@'", {"X": "1"})
    with pytest.raises(Exception, match="Cannot fill"):
        package.render("A='@@X@@'", {"X": "it's"})
    with pytest.raises(Exception, match="Cannot fill"):
        package.render("A='@@X@@'", {"X": "line\n"})
    assert package.render("A='@@X@@'", {"X": "https://h:1/p"}) == "A='https://h:1/p'"


def test_routes_under_agent_need_no_credentials(app: Any) -> None:
    views = {path: entry for path, entry in app.routes.items() if path in ("/agent/install.sh", "/agent/{filename}")}
    assert set(views) == {"/agent/install.sh", "/agent/{filename}"}
    assert all(route.authorizer is None for entry in views.values() for route in entry.values())
