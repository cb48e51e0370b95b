"""An operator's terminal on a console session over the real HTTP API, as the web app runs one:
long-poll `output`, fetch each chunk's presigned URL in order, type through `input`.
Used by the end-to-end tests and by bench/console.py."""

from __future__ import annotations

import time
from typing import Any

import requests


class ConsoleTerminal:
    def __init__(self, session: requests.Session, url: str, opened: dict[str, Any]) -> None:
        self.session, self.url = session, url
        self.console_id, self.client_id = opened["console"]["console_id"], opened["client_id"]
        self.job_id = opened["console"]["job_id"]
        self.after, self.text, self.status, self.reason = 0, b"", str(opened["console"]["status"]), None
        self.chunks_read = 0

    @classmethod
    def open(cls, session: requests.Session, url: str, vm_path: str) -> ConsoleTerminal:
        """POST .../console on `vm_path` (/api/agents/{id}/vms/{vm}); the new or joined session."""
        answer = session.post(f"{url}{vm_path}/console", json={}, timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return cls(session, url, answer.json())

    def poll(self, wait: int = 2) -> list[bytes]:
        """One long poll of the output; the chunks' bytes it brought, also appended to `text`."""
        answer = self.session.get(f"{self.url}/api/consoles/{self.console_id}/output",
                                  params={"after": self.after, "wait": wait, "client_id": self.client_id}, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pieces = [requests.get(chunk["url"], timeout=10).content for chunk in body["chunks"]]
        self.chunks_read += len(pieces)
        self.text += b"".join(pieces)
        self.after, self.status, self.reason = body["next"], body["status"], body["closed_reason"]
        return pieces

    def wait_open(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.status == "opening":
            assert time.monotonic() < deadline, "the console never opened"
            self.poll()
        assert self.status == "open", (self.status, self.reason)

    def wait_for(self, needle: bytes, timeout: float = 30) -> float:
        """Seconds until `needle` is in the transcript read so far."""
        started = time.monotonic()
        while needle not in self.text:
            assert time.monotonic() - started < timeout, (needle, self.text[-500:])
            self.poll()
        return time.monotonic() - started

    def wait_closed(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.status != "closed":
            assert time.monotonic() < deadline, f"the console is still {self.status}"
            self.poll()

    def type(self, data: str) -> None:
        answer = self.session.post(f"{self.url}/api/consoles/{self.console_id}/input",
                                   json={"client_id": self.client_id, "data": data}, timeout=10)
        assert answer.status_code == 202, answer.text
