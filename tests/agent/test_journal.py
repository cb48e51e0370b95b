"""The journal of started jobs: durable across restarts, refuses duplicates, stays bounded."""

from __future__ import annotations

import stat
from pathlib import Path

from fleetvisor_agent.journal import Journal


def test_a_restart_remembers_every_started_attempt(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record("job_a", 1)
    journal.record("job_a", 2)

    reloaded = Journal(tmp_path / "journal.jsonl")

    assert reloaded.has_started("job_a", 1) and reloaded.has_started("job_a", 2)
    assert not reloaded.has_started("job_a", 3)
    assert not reloaded.has_started("job_b", 1)


def test_recording_an_attempt_twice_is_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")

    assert journal.record("job_a", 1) is True
    assert journal.record("job_a", 1) is False
    assert Journal(tmp_path / "journal.jsonl").record("job_a", 1) is False
    assert (tmp_path / "journal.jsonl").read_text().count("job_a") == 1


def test_the_file_is_private(tmp_path: Path) -> None:
    Journal.in_state_dir(tmp_path / "state").record("job_a", 1)

    assert stat.S_IMODE((tmp_path / "state" / "journal.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_loading_compacts_to_the_newest_entries(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    big = Journal(path, keep=100)
    for n in range(12):
        big.record(f"job_{n}", 1)

    small = Journal(path, keep=5)

    assert small.entries() == [(f"job_{n}", 1) for n in range(7, 12)]
    assert len(path.read_text().splitlines()) == 5
    assert Journal(path, keep=5).entries() == small.entries()


def test_a_long_running_journal_compacts_itself(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, keep=3)
    for n in range(6):
        journal.record(f"job_{n}", 1)

    assert len(path.read_text().splitlines()) == 3
    assert journal.entries() == [("job_3", 1), ("job_4", 1), ("job_5", 1)]
    assert len(journal) == 3


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_entry_survives(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal(path).record("job_a", 1)
    with path.open("a") as handle:
        handle.write('["job_b", ')  # the agent died mid-write

    journal = Journal(path)
    journal.record("job_c", 1)

    assert Journal(path).entries() == [("job_a", 1), ("job_c", 1)]


def test_an_attempt_never_settled_is_listed_as_interrupted_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.record("job_done", 1, "claim-1")
    journal.record("job_killed", 2, "claim-2")
    journal.settle("job_done", 1)

    reloaded = Journal(path)

    assert reloaded.interrupted() == [("job_killed", 2, "claim-2")]
    assert reloaded.has_started("job_done", 1) and reloaded.has_started("job_killed", 2)
    reloaded.settle("job_killed", 2)
    assert Journal(path).interrupted() == []


def test_an_older_agents_lines_are_started_attempts_with_nothing_to_report(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('["job_old", 1]\n')

    journal = Journal(path)

    assert journal.has_started("job_old", 1) and journal.interrupted() == []
    assert journal.record("job_old", 1) is False


def test_compaction_keeps_what_is_still_unsettled(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, keep=3)
    journal.record("job_running", 1, "claim-r")
    for n in range(2):
        journal.record(f"job_{n}", 1, f"claim-{n}")
        journal.settle(f"job_{n}", 1)

    reloaded = Journal(path, keep=3)  # five lines for three attempts: loading compacts them

    assert len(path.read_text().splitlines()) == 3
    assert reloaded.interrupted() == [("job_running", 1, "claim-r")]
    assert Journal(path, keep=3).interrupted() == [("job_running", 1, "claim-r")]
