"""The journal of started jobs: the agent's memory of what it must never run twice.

Every (job_id, attempt) is appended and fsync'd before the job touches libvirt,
so an agent killed mid-job and restarted refuses the same delivery as
`replayed` instead of running it again. One JSON array per line; a line torn by
a crash is skipped on load. The file keeps the newest entries only (a signed job
expires within minutes, so an entry thousands of jobs old can no longer be
replayed anyway): it is compacted on load and whenever it has grown to twice
the bound.
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


class Journal:
    def __init__(self, path: Path, keep: int = DEFAULT_KEEP) -> None:
        self.path = path
        self.keep = keep
        self._lock = threading.Lock()
        self._entries: OrderedDict[Entry, None] = OrderedDict()
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

    def record(self, job_id: str, attempt: int) -> bool:
        """Durably note that this attempt starts; False if it was already noted (do not run it)."""
        entry = (job_id, attempt)
        with self._lock:
            if entry in self._entries:
                return False
            self._append_line(json.dumps([job_id, attempt]) + "\n")
            self._remember(entry)
            if self._lines >= 2 * self.keep:
                self._compact()
            return True

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        for number, line in enumerate(text.splitlines(), start=1):
            entry = _parse(line)
            if entry is None:
                log.warning("journal line skipped path=%s line=%d (torn or not an entry)", self.path, number)
                continue
            self._remember(entry)
        self._lines = len(text.splitlines())
        # Rewriting also drops a torn last line, so the next append starts on a line of its own.
        if self._lines > len(self._entries) or (text and not text.endswith("\n")):
            self._compact()

    def _remember(self, entry: Entry) -> None:
        self._entries[entry] = None
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
        body = "".join(json.dumps([job_id, attempt]) + "\n"
                       for job_id, attempt in self._entries)
        write_atomically(self.path, body.encode("utf-8"))
        self._lines = len(self._entries)


def _parse(line: str) -> Entry | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], int) and not isinstance(value[1], bool)):
        return (value[0], value[1])
    return None
