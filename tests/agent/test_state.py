"""The state file: private, written atomically, round-trips the identity, never shows the key."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fleetvisor_agent.config import resolve_config
from fleetvisor_agent.state import (
    STATE_FILE,
    AgentState,
    StateError,
    b64url_encode,
    load_state,
    new_state,
    save_state,
)

PINNED = {"kid-1": "ue0e_K3vyeQgBf_ZWaS1Py2aiGvH9bdfSivI15bSMJU"}


def enrolled_state() -> AgentState:
    state = new_state("https://fleet.example")
    state.agent_id, state.owner_id, state.name = "ag_1", "usr_1", "hv1"
    state.signing_keys = dict(PINNED)
    return state


def private_b64(state: AgentState) -> str:
    return b64url_encode(state.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def test_round_trip_keeps_the_identity(tmp_path: Path) -> None:
    state = enrolled_state()
    save_state(tmp_path, state)

    loaded = load_state(tmp_path)

    assert loaded is not None
    assert (loaded.url, loaded.agent_id, loaded.owner_id, loaded.name) == ("https://fleet.example", "ag_1",
                                                                            "usr_1", "hv1")
    assert loaded.signing_keys == PINNED and loaded.enrolled
    assert loaded.public_key == state.public_key
    assert set(loaded.pinned_keys()) == {"kid-1"}


def test_no_state_before_the_first_enrolment(tmp_path: Path) -> None:
    assert load_state(tmp_path / "nothing") is None
    assert not new_state("https://fleet.example").enrolled


def test_file_is_0600_and_dir_0700(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    save_state(state_dir, enrolled_state())

    assert stat.S_IMODE((state_dir / STATE_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_an_existing_loose_dir_is_tightened(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)

    save_state(state_dir, enrolled_state())

    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_saving_replaces_the_file_rather_than_rewriting_it(tmp_path: Path) -> None:
    """A reader holding the old file sees it whole: the new one arrives by rename, and no temp file is left."""
    first = enrolled_state()
    save_state(tmp_path, first)
    with (tmp_path / STATE_FILE).open("rb") as old:
        second = enrolled_state()
        second.agent_id = "ag_2"
        save_state(tmp_path, second)

        assert b'"ag_1"' in old.read()
    assert load_state(tmp_path).agent_id == "ag_2"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]


def test_the_private_key_never_shows_in_repr_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    state = enrolled_state()
    secret = private_b64(state)

    save_state(tmp_path, state)
    loaded = load_state(tmp_path)

    assert secret in (tmp_path / STATE_FILE).read_text()  # it has to live somewhere: here, 0600
    assert secret not in repr(state) and secret not in repr(loaded)
    assert secret not in caplog.text


def test_a_pending_enrolment_keeps_its_token_out_of_repr(tmp_path: Path) -> None:
    state = new_state("https://fleet.example")
    state.enrollment_token = "fvet_secret-token"
    save_state(tmp_path, state)

    loaded = load_state(tmp_path)

    assert loaded is not None and loaded.enrollment_token == "fvet_secret-token" and not loaded.enrolled
    assert "fvet_secret-token" not in repr(loaded)


def test_an_enrolled_state_keeps_no_enrolment_token(tmp_path: Path) -> None:
    save_state(tmp_path, enrolled_state())

    assert "enrollment_token" not in (tmp_path / STATE_FILE).read_text()


def test_the_enrolment_token_never_shows_in_the_config_repr() -> None:
    config = resolve_config(url="https://fleet.example", token="fvet_secret-token", env={}, hostname="hv1",
                            default_config_file=None)

    assert "fvet_secret-token" not in repr(config)


@pytest.mark.parametrize("content", [
    "not json",
    '{"format": 99, "url": "https://x", "private_key": "AAAA"}',
    '{"format": 1, "url": "https://x", "private_key": "AAAA"}',
    '{"format": 1, "url": "https://x", "private_key": "' + "A" * 43 + '", "signing_keys": {"k": "bad"}}',
])
def test_a_damaged_state_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / STATE_FILE).write_text(content)

    with pytest.raises(StateError, match="not a valid agent state file"):
        load_state(tmp_path)
