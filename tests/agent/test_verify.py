"""The signed-job verifier against the shared vectors, and the canonical-form rules the vectors do not reach."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleetvisor_agent import jobs
from fleetvisor_agent.journal import Journal
from fleetvisor_agent.state import public_key_from_b64
from fleetvisor_agent.verify import Policy, Refused, VerifiedJob, unverified_job_id, verify

from .conftest import VECTORS_PATH, sign_envelope, sign_raw

CASES = json.loads(VECTORS_PATH.read_text())["cases"]


def policy_for(vectors: dict[str, Any], journal: Journal) -> Policy:
    return Policy(keys={k["kid"]: public_key_from_b64(k["public_key"]) for k in vectors["keys"]},
                  agent_id=vectors["agent_id"], allowed_ops=frozenset(vectors["allowed_ops"]),
                  args_valid=jobs.args_valid, has_started=journal.has_started)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")


@pytest.fixture
def policy(vectors: dict[str, Any], journal: Journal) -> Policy:
    return policy_for(vectors, journal)


def base_payload(vectors: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payload = dict(CASES[0]["payload"])
    payload.update(changes)
    return payload


def refusal(envelope: object, policy: Policy, now: float) -> str:
    with pytest.raises(Refused) as caught:
        verify(envelope, policy, now)
    return caught.value.reason


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any], vectors: dict[str, Any], journal: Journal, policy: Policy) -> None:
    for job_id, attempt in case.get("already_run", []):
        journal.record(job_id, attempt)

    if case["expect"] == "accept":
        job = verify(case["envelope"], policy, vectors["now"])
        expected = {k: v for k, v in case["payload"].items() if k != "v"}
        assert job == VerifiedJob(**expected)
    else:
        assert refusal(case["envelope"], policy, vectors["now"]) == case["reason"]


def test_vectors_cover_every_refusal_reason() -> None:
    reasons = {c["reason"] for c in CASES if c["expect"] == "reject"}
    assert reasons == {"malformed", "unknown_kid", "bad_signature", "wrong_agent", "expired", "replayed",
                       "op_not_allowed", "bad_args"}


def test_a_job_is_valid_up_to_and_including_its_expiry_second(vectors: dict[str, Any], policy: Policy) -> None:
    envelope = CASES[0]["envelope"]
    expires_at = CASES[0]["payload"]["expires_at"]

    assert verify(envelope, policy, expires_at).expires_at == expires_at
    assert refusal(envelope, policy, expires_at + 1) == "expired"


def test_the_first_failing_check_names_the_refusal(vectors: dict[str, Any], vector_key: Ed25519PrivateKey,
                                                    policy: Policy) -> None:
    """Another agent's job that is also expired, replayed and of an unknown op is refused as wrong_agent."""
    payload = base_payload(vectors, agent_id="ag_other", expires_at=1, op="host.exec")

    assert refusal(sign_envelope(payload, vector_key, "test-vector-1"), policy, vectors["now"]) == "wrong_agent"


def test_a_signature_is_checked_before_the_payload_is_parsed(vectors: dict[str, Any], policy: Policy) -> None:
    """Garbage under a valid kid is a bad signature, not malformed: nothing was parsed from unsigned bytes."""
    envelope = {**CASES[0]["envelope"], "payload": base64.urlsafe_b64encode(b"{not json").decode().rstrip("=")}

    assert refusal(envelope, policy, vectors["now"]) == "bad_signature"


@pytest.mark.parametrize("body", [
    pytest.param(b'{"v": 1}', id="whitespace"),
    pytest.param(b'{"b":1,"a":2}', id="unsorted-keys"),
    pytest.param(b'{"a":"\\u00e9"}', id="escaped-non-ascii"),
    pytest.param(b'{"a":1,"a":1}', id="duplicate-key"),
    pytest.param(b'{"a":NaN}', id="nan"),
    pytest.param(b'{"a":1e3}', id="exponent"),
    pytest.param(b'\xff\xfe', id="not-utf8"),
    pytest.param(b'[1,2]', id="not-an-object"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="deeply-nested"),
])
def test_signed_but_non_canonical_payloads_are_malformed(body: bytes, vectors: dict[str, Any],
                                                         vector_key: Ed25519PrivateKey, policy: Policy) -> None:
    assert refusal(sign_raw(body, vector_key, "test-vector-1"), policy, vectors["now"]) == "malformed"


@pytest.mark.parametrize("changes", [
    pytest.param({"attempt": 0}, id="attempt-zero"),
    pytest.param({"attempt": True}, id="attempt-bool"),
    pytest.param({"v": 2}, id="payload-v2"),
    pytest.param({"args": ["vm_uuid"]}, id="args-not-object"),
    pytest.param({"job_id": 7}, id="job-id-not-string"),
    pytest.param({"extra": 1}, id="extra-field"),
])
def test_payload_fields_must_have_the_right_types(changes: dict[str, Any], vectors: dict[str, Any],
                                                  vector_key: Ed25519PrivateKey, policy: Policy) -> None:
    envelope = sign_envelope(base_payload(vectors, **changes), vector_key, "test-vector-1")

    assert refusal(envelope, policy, vectors["now"]) == "malformed"


@pytest.mark.parametrize("envelope_change", [
    pytest.param({"payload": CASES[0]["envelope"]["payload"] + "="}, id="padding"),
    pytest.param({"payload": CASES[0]["envelope"]["payload"][:-4] + "ab+/"}, id="standard-alphabet"),
    pytest.param({"payload": "A" * (64 * 1024 + 4)}, id="oversized"),
    pytest.param({"v": True}, id="version-bool"),
    pytest.param({"kid": 1}, id="kid-not-string"),
])
def test_envelope_encoding_is_strict(envelope_change: dict[str, Any], vectors: dict[str, Any],
                                     policy: Policy) -> None:
    envelope = {**CASES[0]["envelope"], **envelope_change}

    assert refusal(envelope, policy, vectors["now"]) == "malformed"


def test_an_envelope_that_is_not_an_object_is_malformed(vectors: dict[str, Any], policy: Policy) -> None:
    assert refusal(["v", "kid"], policy, vectors["now"]) == "malformed"
    assert refusal(None, policy, vectors["now"]) == "malformed"


@pytest.mark.parametrize("vm_uuid", [
    "6695EB01-F6A4-8304-79AA-97F2502E193F",
    "6695eb01f6a4830479aa97f2502e193f",
    "6695eb01-f6a4-8304-79aa-97f2502e193f\n",
    "",
])
def test_vm_uuid_must_be_lowercase_hyphenated(vm_uuid: str, vectors: dict[str, Any],
                                              vector_key: Ed25519PrivateKey, policy: Policy) -> None:
    envelope = sign_envelope(base_payload(vectors, args={"vm_uuid": vm_uuid}), vector_key, "test-vector-1")

    assert refusal(envelope, policy, vectors["now"]) == "bad_args"


def test_every_operation_of_the_contract_is_registered() -> None:
    assert jobs.allowed_ops() == {
        "vm.start", "vm.shutdown", "vm.force_stop", "vm.reboot", "vm.reset", "vm.suspend", "vm.resume",
        "vm.set_autostart", "vm.delete", "vm.snapshot_create", "vm.snapshot_list", "vm.snapshot_revert",
        "vm.snapshot_delete", "vm.detail", "host.capabilities", "console.attach", "vm.deploy", "vm.clone",
        "vm.resize"}
    assert jobs.args_valid("vm.reboot", {"vm_uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f"})
    assert jobs.args_valid("console.attach", {"vm_uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
                                              "console_id": "0123456789abcdef0123456789abcdef"})
    assert not jobs.args_valid("console.attach", {"vm_uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
                                                  "console_id": "../../etc/passwd"})
    assert not jobs.args_valid("vm.reboot", {"vm_uuid": 42})
    assert not jobs.args_valid("host.exec", {"vm_uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f"})


UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


@pytest.mark.parametrize(("op", "args"), [
    ("vm.shutdown", {"vm_uuid": UUID}),
    ("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 1}),
    ("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 3600}),
    ("vm.reset", {"vm_uuid": UUID}),
    ("vm.set_autostart", {"vm_uuid": UUID, "autostart": False}),
    ("vm.delete", {"vm_uuid": UUID, "delete_storage": True, "confirm": "web 1 (old)"}),
    ("vm.snapshot_create", {"vm_uuid": UUID, "name": "a"}),
    ("vm.snapshot_create", {"vm_uuid": UUID, "name": "A" + "b.-_9" * 12 + "xyz", "description": ""}),
    ("vm.snapshot_create", {"vm_uuid": UUID, "name": "before-upgrade", "description": "<ü> & \"é\" " * 90}),
    ("vm.snapshot_list", {"vm_uuid": UUID}),
    ("vm.snapshot_revert", {"vm_uuid": UUID, "name": "s1"}),
    ("vm.snapshot_delete", {"vm_uuid": UUID, "name": "s1"}),
    ("vm.detail", {"vm_uuid": UUID}),
    ("host.capabilities", {}),
])
def test_arguments_that_fit_the_schema(op: str, args: dict[str, Any]) -> None:
    assert jobs.args_valid(op, args)


@pytest.mark.parametrize(("op", "args"), [
    pytest.param("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 0}, id="timeout-zero"),
    pytest.param("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": 3601}, id="timeout-too-long"),
    pytest.param("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": True}, id="timeout-bool"),
    pytest.param("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": "30"}, id="timeout-string"),
    pytest.param("vm.shutdown", {"vm_uuid": UUID, "timeout_seconds": None}, id="timeout-null"),
    pytest.param("vm.set_autostart", {"vm_uuid": UUID}, id="autostart-missing"),
    pytest.param("vm.set_autostart", {"vm_uuid": UUID, "autostart": 1}, id="autostart-int"),
    pytest.param("vm.set_autostart", {"vm_uuid": UUID, "autostart": "true"}, id="autostart-string"),
    pytest.param("vm.delete", {"vm_uuid": UUID, "delete_storage": True}, id="delete-without-confirm"),
    pytest.param("vm.delete", {"vm_uuid": UUID, "delete_storage": True, "confirm": ""}, id="delete-empty-confirm"),
    pytest.param("vm.delete", {"vm_uuid": UUID, "confirm": "web1"}, id="delete-without-delete-storage"),
    pytest.param("vm.delete", {"vm_uuid": UUID, "delete_storage": 0, "confirm": "web1"}, id="delete-storage-int"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "-lead"}, id="name-leading-dash"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": ".hidden"}, id="name-leading-dot"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "a" * 65}, id="name-65-chars"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "a/b"}, id="name-slash"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "s1\n"}, id="name-trailing-newline"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "<s/>"}, id="name-markup"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "s1", "description": "x" * 1001},
                 id="description-too-long"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "s1", "description": "two\nlines"},
                 id="description-newline"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "s1", "description": "bell\x07"},
                 id="description-control"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "s1", "description": None},
                 id="description-null"),
    pytest.param("vm.snapshot_create", {"vm_uuid": UUID, "name": "s1", "memory": True}, id="unknown-field"),
    pytest.param("vm.snapshot_revert", {"vm_uuid": UUID}, id="revert-without-name"),
    pytest.param("vm.snapshot_list", {"vm_uuid": UUID, "name": "s1"}, id="list-with-name"),
    pytest.param("host.capabilities", {"vm_uuid": UUID}, id="capabilities-with-args"),
])
def test_arguments_that_do_not_fit_the_schema(op: str, args: dict[str, Any]) -> None:
    assert not jobs.args_valid(op, args)


def test_a_signed_job_with_bad_arguments_is_refused_as_bad_args(vectors: dict[str, Any],
                                                                 vector_key: Ed25519PrivateKey) -> None:
    policy = Policy(keys={k["kid"]: public_key_from_b64(k["public_key"]) for k in vectors["keys"]},
                    agent_id=vectors["agent_id"], allowed_ops=jobs.allowed_ops(), args_valid=jobs.args_valid,
                    has_started=lambda _job_id, _attempt: False)
    payload = base_payload(vectors, op="vm.snapshot_create", args={"vm_uuid": UUID, "name": "s1",
                                                                     "description": "a\u0000b"})

    assert refusal(sign_envelope(payload, vector_key, "test-vector-1"), policy, vectors["now"]) == "bad_args"


def test_the_host_allow_list_narrows_the_operations() -> None:
    assert jobs.allowed_ops({"vm.start", "vm.shutdown", "host.exec"}) == {"vm.start", "vm.shutdown"}


def test_the_job_id_of_a_refused_envelope_can_be_read_for_the_report() -> None:
    tampered = next(c for c in CASES if c["name"] == "tampered_payload")["envelope"]

    assert unverified_job_id(tampered) == CASES[0]["payload"]["job_id"]
    assert unverified_job_id({"payload": "!!!"}) is None
    assert unverified_job_id("nope") is None
