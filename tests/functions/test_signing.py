"""The control plane's signer against the shared signed-job vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalicelib.jobs import signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "signed_jobs.json").read_text())
ACCEPTED = [case for case in VECTORS["cases"] if case["expect"] == "accept"]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["name"] for c in ACCEPTED])
def test_signer_reproduces_every_accepted_envelope(case: dict) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["signing_key_seed_hex"]))
    assert signing.envelope(case["payload"], case["payload"]["kid"], key) == case["envelope"]


def test_canonical_form_sorts_keys_and_drops_whitespace() -> None:
    assert signing.canonical({"b": 1, "a": {"d": [1, "é"], "c": None}}) == '{"a":{"c":null,"d":[1,"é"]},"b":1}'.encode()


def test_floats_have_no_canonical_form() -> None:
    with pytest.raises(ValueError, match="floats"):
        signing.canonical({"args": {"n": [1.5]}})
