"""The operator API over HTTP: the one module that imports requests.

Credentials, in order: an API key (FLEETVISOR_API_KEY), else email and
password (FLEETVISOR_EMAIL / FLEETVISOR_PASSWORD, the password prompted for
when it is not set and a terminal is attached).
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from typing import Any

import requests

DEFAULT_URL = "http://127.0.0.1:8000"


class CliError(Exception):
    """A failure to tell the user about, with the API's error code when there is one."""


@dataclass
class Api:
    url: str
    session: requests.Session

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            answer = self.session.request(method, self.url + path, json=body, timeout=30)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach {self.url}: {exc}") from exc
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            code, message = error.get("code", "error"), error.get("message", answer.text[:200])
            raise CliError(f"{answer.status_code} {code}: {message}")
        return data


def connect(url: str | None, email: str | None) -> Api:
    base = (url or os.environ.get("FLEETVISOR_URL") or DEFAULT_URL).rstrip("/")
    session = requests.Session()
    session.headers["User-Agent"] = "fleetvisor-cli/0.1"
    api = Api(base, session)
    key = os.environ.get("FLEETVISOR_API_KEY")
    if key:
        session.headers["Authorization"] = f"Bearer {key}"
        return api
    email = email or os.environ.get("FLEETVISOR_EMAIL")
    if not email:
        raise CliError("set FLEETVISOR_API_KEY, or give --email (or FLEETVISOR_EMAIL) to log in")
    password = os.environ.get("FLEETVISOR_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CliError("set FLEETVISOR_PASSWORD (no terminal to ask for it)")
        password = getpass.getpass(f"Password for {email}: ")
    token = api.call("POST", "/api/auth/login", {"email": email, "password": password})["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return api
