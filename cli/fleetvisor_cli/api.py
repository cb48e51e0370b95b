"""The operator API over HTTP: the one module that imports requests.

Which API, in order: `--url`, FLEETVISOR_URL, the local stack that is
running (`make up` writes its URL to `.fleetvisor/stack.json` and removes it
when it stops; the CLI looks in FLEETVISOR_HOME, else in `.fleetvisor/` of
the current directory or the nearest one above it), else
http://127.0.0.1:8000.

Credentials, in order: an API key (FLEETVISOR_API_KEY), else email and
password (FLEETVISOR_EMAIL / FLEETVISOR_PASSWORD, the password prompted for
when it is not set and a terminal is attached).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

DEFAULT_URL = "http://127.0.0.1:8000"
STACK_FILE = "stack.json"  # infra/local.py writes it
FINAL = frozenset({"succeeded", "failed", "timed_out", "cancelled", "expired"})


class CliError(Exception):
    """A failure to tell the user about, with the API's error code when there is one, and the exit code.
    `fields` are the API's reasons per field (`error.fields` of a 400: a manifest or a deployment
    refused), each printed on a line of its own."""

    def __init__(self, message: str, exit_code: int = 1, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.fields = dict(fields or {})

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"  {name or '(whole)'}: {why}" for name, why in sorted(self.fields.items())]
        return "\n".join(lines)


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
            fields = error.get("fields")
            raise CliError(f"{answer.status_code} {code}: {message}",
                           fields={str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else None)
        return data

    def wait_for_job(self, job_id: str, timeout: float,
                     seen: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """The job once it is final; CliError when `timeout` seconds pass first. `seen` is given
        each read of the job (the last one included), to follow its progress."""
        deadline = time.monotonic() + timeout
        pause = 0.2
        while True:
            job: dict[str, Any] = self.call("GET", f"/api/jobs/{job_id}")
            if seen is not None:
                seen(job)
            if job["status"] in FINAL:
                return job
            if time.monotonic() + pause > deadline:
                raise CliError(f"job {job_id} is still {job['status']} after {timeout:g} s", exit_code=4)
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)


def find_url(explicit: str | None) -> str:
    """The API's base URL (module docstring: the order)."""
    url = explicit or os.environ.get("FLEETVISOR_URL") or _local_stack_url() or DEFAULT_URL
    return url.rstrip("/")


def _local_stack_url() -> str | None:
    home = os.environ.get("FLEETVISOR_HOME")
    places = [Path(home)] if home else [folder / ".fleetvisor" for folder in (Path.cwd(), *Path.cwd().parents)]
    for place in places:
        try:
            stack = json.loads((place / STACK_FILE).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(stack, dict) and isinstance(stack.get("url"), str) and _alive(stack.get("pid")):
            return stack["url"]
    return None


def _alive(pid: Any) -> bool:
    """Whether the stack that wrote the file still runs (a killed one leaves it behind)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def connect(url: str | None, email: str | None) -> Api:
    base = find_url(url)
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
