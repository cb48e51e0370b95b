"""The journal of started jobs: the agent's memory of what it must never run twice.

Every (job_id, attempt) is appended and fsync'd before the job touches libvirt,
so an agent killed mid-job and restarted refuses the same delivery as
`replayed` instead of running it again. One JSON array per line; a line torn by
a crash is skipped on load. The file keeps the newest entries only (a signed job
expires within minutes, so an entry thousands of jobs old can no longer be
replayed anyway): it is compacted on load and whenever it has grown to twice
the bound.

An attempt is journaled with its claim token, `[job_id, attempt, claim_token]`,
and settled with `[job_id, attempt, null]` once this process is done with it
(reported, abandoned or refused). What a restarted agent finds unsettled was
running when the agent died: `interrupted()` lists it, with the token that lets
the agent report it at once (runner.py) instead of leaving the job to wait out
its lease. The token only fences the agent's own calls about that attempt,
which its key signs anyway; the file is 0600 in the 0700 state directory. A
line of two (an older agent's) is a started attempt with no token to report.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from .state import ensure_state_dir, fsync_dir, write_atomically

JOURNAL_FILE = "journal.jsonl"
DEFAULT_KEEP = 10_000

log = logging.getLogger(__name__)

Entry = tuple[str, int]
Interrupted = tuple[str, int, str]  # job_id, attempt, claim token


class Journal:
    def __init__(self, path: Path, keep: int = DEFAULT_KEEP) -> None:
        self.path = path
        self.keep = keep
        self._lock = threading.Lock()
        self._entries: OrderedDict[Entry, str | None] = OrderedDict()  # the claim token while unsettled
        self._lines = 0
        self._load()

    @classmethod
    def in_state_dir(cls, state_dir: Path, keep: int = DEFAULT_KEEP) -> Journal:
        ensure_state_dir(state_dir)
        return cls(state_dir / JOURNAL_FILE, keep)

    def __contains__(self, entry: object) -> bool:
        with self._lock:
            return entry in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def has_started(self, job_id: str, attempt: int) -> bool:
        return (job_id, attempt) in self

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def interrupted(self) -> list[Interrupted]:
        """Attempts journaled with a claim token and never settled: what was running when the agent died."""
        with self._lock:
            return [(job_id, attempt, token) for (job_id, attempt), token in self._entries.items() if token]

    def record(self, job_id: str, attempt: int, claim_token: str | None = None) -> bool:
        """Durably note that this attempt starts; False if it was already noted (do not run it)."""
        entry = (job_id, attempt)
        with self._lock:
            if entry in self._entries:
                return False
            self._write(entry, claim_token)
            return True

    def settle(self, job_id: str, attempt: int) -> None:
        """Durably note that this process is done with the attempt: a restart has nothing to report of it."""
        entry = (job_id, attempt)
        with self._lock:
            if self._entries.get(entry):
                self._write(entry, None)

    def _write(self, entry: Entry, claim_token: str | None) -> None:
        self._append_line(json.dumps([*entry, claim_token]) + "\n")
        self._remember(entry, claim_token)
        if self._lines >= 2 * self.keep:
            self._compact()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        for number, line in enumerate(text.splitlines(), start=1):
            parsed = _parse(line)
            if parsed is None:
                log.warning("journal line skipped path=%s line=%d (torn or not an entry)", self.path, number)
                continue
            self._remember(*parsed)
        self._lines = len(text.splitlines())
        # Rewriting also drops a torn last line, so the next append starts on a line of its own.
        if self._lines > len(self._entries) or (text and not text.endswith("\n")):
            self._compact()

    def _remember(self, entry: Entry, claim_token: str | None) -> None:
        self._entries[entry] = claim_token
        self._entries.move_to_end(entry)
        while len(self._entries) > self.keep:
            self._entries.popitem(last=False)

    def _append_line(self, line: str) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)
        self._lines += 1

    def _compact(self) -> None:
        body = "".join(json.dumps([job_id, attempt, token]) + "\n"
                       for (job_id, attempt), token in self._entries.items())
        write_atomically(self.path, body.encode("utf-8"))
        self._lines = len(self._entries)


def _parse(line: str) -> tuple[Entry, str | None] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, list) or len(value) not in (2, 3):
        return None
    job_id, attempt, token = (*value, None) if len(value) == 2 else value
    if (isinstance(job_id, str) and isinstance(attempt, int) and not isinstance(attempt, bool)
            and (token is None or isinstance(token, str))):
        return (job_id, attempt), token
    return None
