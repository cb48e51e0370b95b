"""The control plane's signer against the shared signed-job and key-announcement vectors, and the keyring's
rotation steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalicelib import keys
from chalicelib.jobs import signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "signed_jobs.json").read_text())
ACCEPTED = [case for case in VECTORS["cases"] if case["expect"] == "accept"]
ANNOUNCEMENTS = json.loads((Path(__file__).parents[1] / "vectors" / "key_announcements.json").read_text())
ANNOUNCED = [case for case in ANNOUNCEMENTS["cases"] if case["expect"] == "accept"]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["name"] for c in ACCEPTED])
def test_signer_reproduces_every_accepted_envelope(case: dict) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["signing_key_seed_hex"]))
    assert signing.envelope(case["payload"], case["payload"]["kid"], key) == case["envelope"]


def test_canonical_form_sorts_keys_and_drops_whitespace() -> None:
    assert signing.canonical({"b": 1, "a": {"d": [1, "é"], "c": None}}) == '{"a":{"c":null,"d":[1,"é"]},"b":1}'.encode()


def test_floats_have_no_canonical_form() -> None:
    with pytest.raises(ValueError, match="floats"):
        signing.canonical({"args": {"n": [1.5]}})


@pytest.mark.parametrize("case", ANNOUNCED, ids=[c["name"] for c in ANNOUNCED])
def test_announcer_reproduces_every_accepted_announcement(case: dict) -> None:
    seeds = ANNOUNCEMENTS["signing_key_seeds_hex"]
    signers = {kid: Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seeds[kid])) for kid in case["signers"]}
    payload = case["payload"]
    assert signing.announcement(payload["serial"], payload["keys"], signers) == case["envelope"]


def test_a_rotation_adds_activates_and_retires_with_the_serial_counting_key_set_changes() -> None:
    first = keys.parse(keys.new_secret_value("job"))
    added, new_kid = keys.add_key(first, "job", now=100)
    active = keys.activate(added, new_kid, now=200)
    retired = keys.retire(active, first.active_kid, now=300)

    assert (first.serial, added.serial, active.serial, retired.serial) == (1, 2, 2, 3)
    assert (added.active_kid, active.active_kid, retired.active_kid) == (first.active_kid, new_kid, new_kid)
    assert set(retired.private) == {new_kid} and retired.changed_at == 300
    assert signing.announce(added)["sigs"][0]["kid"] in {first.active_kid, new_kid}
    assert len(signing.announce(added)["sigs"]) == 2
    assert keys.dump(keys.parse(keys.dump(retired))) == keys.dump(retired)


@pytest.mark.parametrize(("step", "message"), [
    (lambda ring: keys.retire(ring, ring.active_kid, now=1), "is the active key"),
    (lambda ring: keys.activate(ring, ring.active_kid, now=1), "active key already"),
    (lambda ring: keys.activate(ring, "nope", now=1), "no key 'nope'"),
    (lambda ring: keys.retire(ring, "nope", now=1), "no key 'nope'"),
])
def test_rotation_steps_that_do_not_apply_are_refused(step: Any, message: str) -> None:
    with pytest.raises(keys.KeyringError, match=message):
        step(keys.parse(keys.new_secret_value("job")))


def test_a_keyring_holds_at_most_four_keys() -> None:
    ring = keys.parse(keys.new_secret_value("job"))
    for _ in range(keys.MAX_KEYS - 1):
        ring, _kid = keys.add_key(ring, "job", now=1)
    with pytest.raises(keys.KeyringError, match="retire one first"):
        keys.add_key(ring, "job", now=1)


def test_a_keyring_written_before_serials_is_serial_1() -> None:
    seed = "A" * 43
    ring = keys.parse(json.dumps({"active": "job-1", "keys": {"job-1": seed}}))
    assert (ring.serial, ring.changed_at) == (1, 0)
