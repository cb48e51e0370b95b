"""The key-announcement verifier against the shared vectors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fleetvisor_agent.announcements import KeySet, verify_announcement
from fleetvisor_agent.state import public_key_from_b64
from fleetvisor_agent.verify import Refused

from .conftest import ANNOUNCEMENT_VECTORS_PATH

VECTORS = json.loads(ANNOUNCEMENT_VECTORS_PATH.read_text())
PINNED = {k["kid"]: public_key_from_b64(k["public_key"]) for k in VECTORS["pinned"]}


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_vector(case: dict[str, Any]) -> None:
    serial = case.get("pinned_serial", VECTORS["pinned_serial"])
    if case["expect"] == "accept":
        expected = KeySet(case["payload"]["serial"], {k["kid"]: k["public_key"] for k in case["payload"]["keys"]})
        assert verify_announcement(case["envelope"], PINNED, serial) == expected
    else:
        with pytest.raises(Refused) as caught:
            verify_announcement(case["envelope"], PINNED, serial)
        assert caught.value.reason == case["reason"]
