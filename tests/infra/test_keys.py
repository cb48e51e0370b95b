"""The key rotation tool against moto's Secrets Manager: each step, the wait between steps, the local copy."""

from __future__ import annotations

import stat
import uuid

import pytest

from infra import keys as tool
from infra.local import LocalStack, saved_secret_path


@pytest.fixture
def stage(emulators: LocalStack) -> str:
    """A stage of its own, with a fresh job-signing keyring, so no other test's keys move."""
    name = f"keys{uuid.uuid4().hex[:8]}"
    client = emulators.client("secretsmanager")
    client.create_secret(Name=f"fleetvisor/{name}/job-signing-key", SecretString=tool.keys.new_secret_value("job"))
    return name


def _run(emulators: LocalStack, stage: str, *args: str, now: int | None = None) -> int:
    return tool.run([*args, "--stage", stage, "--local", str(emulators.root)], now=now)


def _ring(emulators: LocalStack, stage: str) -> tool.keys.Keyring:
    return tool.secret_for("job", stage, emulators.root).read()


def test_a_rotation_step_by_step(emulators: LocalStack, stage: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = _ring(emulators, stage)
    assert _run(emulators, stage, "add", now=first.changed_at + 1) == 0
    added = _ring(emulators, stage)
    [new_kid] = set(added.private) - {first.active_kid}
    assert _run(emulators, stage, "activate", new_kid, now=added.changed_at + tool.SETTLE_SECONDS) == 0
    assert _run(emulators, stage, "retire", first.active_kid, now=added.changed_at + 2 * tool.SETTLE_SECONDS) == 0
    assert _run(emulators, stage, "status") == 0

    last = _ring(emulators, stage)
    assert (added.serial, last.serial, last.active_kid, set(last.private)) == (2, 3, new_kid, {new_kid})
    out = capsys.readouterr().out
    assert f"added {new_kid} (serial 2)" in out and f"retired {first.active_kid}" in out
    assert out.rstrip().endswith(f"{new_kid}  (signs)")
    saved = saved_secret_path(emulators.root, f"fleetvisor/{stage}/job-signing-key")
    assert saved.read_text() == tool.keys.dump(last) and stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_a_step_right_after_another_waits_unless_forced(emulators: LocalStack, stage: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    first = _ring(emulators, stage)
    assert _run(emulators, stage, "add", now=first.changed_at + 1) == 0
    added = _ring(emulators, stage)
    [new_kid] = set(added.private) - {first.active_kid}

    assert _run(emulators, stage, "activate", new_kid, now=added.changed_at + 60) == tool.EXIT_REFUSED
    assert "wait 540 s more" in capsys.readouterr().err
    assert tool.keys.dump(_ring(emulators, stage)) == tool.keys.dump(added)
    assert _run(emulators, stage, "activate", new_kid, "--force", now=added.changed_at + 60) == 0
    assert _ring(emulators, stage).active_kid == new_kid


def test_retiring_the_signing_key_is_refused(emulators: LocalStack, stage: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ring = _ring(emulators, stage)
    assert _run(emulators, stage, "retire", ring.active_kid, "--force") == tool.EXIT_REFUSED
    assert "is the active key: activate another one first" in capsys.readouterr().err
    assert tool.keys.dump(_ring(emulators, stage)) == tool.keys.dump(ring)
    with pytest.raises(SystemExit):
        _run(emulators, stage, "activate")


def test_init_writes_a_first_keyring_once(emulators: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    stage = f"keys{uuid.uuid4().hex[:8]}"
    emulators.client("secretsmanager").create_secret(Name=f"fleetvisor/{stage}/access-token-key")  # no value yet
    assert _run(emulators, stage, "init", "--keyring", "token") == 0
    ring = tool.secret_for("token", stage, emulators.root).read()
    assert (ring.serial, len(ring.private), ring.active_kid.startswith("token-")) == (1, 1, True)
    assert _run(emulators, stage, "init", "--keyring", "token") == tool.EXIT_REFUSED
    assert "holds a keyring already" in capsys.readouterr().err
