"""Write signed_jobs.json and key_announcements.json: the signed-job and
signed key-announcement vectors both sides are held to.

The control plane's signer must reproduce every `accept` envelope byte for byte
(Ed25519 is deterministic), and the agent's verifier must accept exactly those
and refuse every other case with the named reason. The keys are derived from
public seeds: they sign nothing but these vectors.

Run `python tests/vectors/generate.py` after changing the format; review the diff.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SEED = hashlib.sha256(b"fleetvisor public test-vector key: signs nothing real").digest()
OTHER_SEED = hashlib.sha256(b"fleetvisor test-vector key the agent never pinned").digest()
NEW_SEED = hashlib.sha256(b"fleetvisor public test-vector key, the one rotated in").digest()
KID = "test-vector-1"
NEW_KID = "test-vector-2"
ROGUE_KID = "rogue-1"
AGENT_ID = "ag_5b1f0e6c2d7a4f3e9c8b1a2d3e4f5a6b"
NOW = 1795000000
VM_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def envelope(payload: dict[str, Any], key: Ed25519PrivateKey, kid: str = KID) -> dict[str, Any]:
    body = canonical(payload)
    return {"v": 1, "kid": kid, "payload": b64url(body), "sig": b64url(key.sign(body))}


def public_b64(key: Ed25519PrivateKey) -> str:
    return b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def base_payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "v": 1,
        "job_id": "job_01a2b3c4d5e6f708192a3b4c5d6e7f80",
        "agent_id": AGENT_ID,
        "op": "vm.start",
        "args": {"vm_uuid": VM_UUID},
        "issued_at": NOW - 5,
        "expires_at": NOW + 115,
        "attempt": 1,
        "kid": KID,
    }
    payload.update(changes)
    return payload


def cases(key: Ed25519PrivateKey, other: Ed25519PrivateKey) -> list[dict[str, Any]]:
    valid = envelope(base_payload(), key)
    tampered = copy.deepcopy(valid)
    tampered_body = canonical(base_payload(args={"vm_uuid": "00000000-0000-4000-8000-000000000000"}))
    tampered["payload"] = b64url(tampered_body)
    other_job = base_payload(op="vm.shutdown", job_id="job_ffeeddccbbaa99887766554433221100")
    out = [
        {"name": "valid_start", "payload": base_payload(), "envelope": valid, "expect": "accept"},
        {"name": "valid_shutdown_second_attempt",
         "payload": base_payload(op="vm.shutdown", attempt=2),
         "envelope": envelope(base_payload(op="vm.shutdown", attempt=2), key),
         "already_run": [[base_payload()["job_id"], 1]], "expect": "accept"},
        {"name": "valid_other_job", "payload": other_job,
         "envelope": envelope(other_job, key), "expect": "accept"},
        {"name": "tampered_payload", "envelope": tampered, "expect": "reject", "reason": "bad_signature"},
        {"name": "signed_by_unpinned_key_under_known_kid",
         "envelope": envelope(base_payload(), other), "expect": "reject", "reason": "bad_signature"},
        {"name": "unknown_kid", "envelope": envelope(base_payload(kid="rotated-away"), key, "rotated-away"),
         "expect": "reject", "reason": "unknown_kid"},
        {"name": "wrong_agent",
         "envelope": envelope(base_payload(agent_id="ag_00000000000000000000000000000000"), key),
         "expect": "reject", "reason": "wrong_agent"},
        {"name": "expired", "envelope": envelope(base_payload(issued_at=NOW - 200, expires_at=NOW - 1), key),
         "expect": "reject", "reason": "expired"},
        {"name": "replayed", "envelope": valid, "already_run": [[base_payload()["job_id"], 1]],
         "expect": "reject", "reason": "replayed"},
        {"name": "op_not_allowed", "envelope": envelope(base_payload(op="host.exec"), key),
         "expect": "reject", "reason": "op_not_allowed"},
        {"name": "bad_args_injection",
         "envelope": envelope(base_payload(args={"vm_uuid": "x</uuid><devices>"}), key),
         "expect": "reject", "reason": "bad_args"},
        {"name": "bad_args_extra_field",
         "envelope": envelope(base_payload(args={"vm_uuid": VM_UUID, "path": "/etc/passwd"}), key),
         "expect": "reject", "reason": "bad_args"},
        {"name": "payload_kid_differs",
         "envelope": {**envelope(base_payload(kid="other"), key), "kid": KID},
         "expect": "reject", "reason": "malformed"},
        {"name": "payload_has_float",
         "envelope": envelope(base_payload(attempt=1.0), key), "expect": "reject", "reason": "malformed"},
        {"name": "payload_missing_field",
         "envelope": envelope({k: v for k, v in base_payload().items() if k != "expires_at"}, key),
         "expect": "reject", "reason": "malformed"},
        {"name": "envelope_extra_field", "envelope": {**valid, "alg": "none"},
         "expect": "reject", "reason": "malformed"},
        {"name": "envelope_version_2", "envelope": {**valid, "v": 2}, "expect": "reject", "reason": "malformed"},
        {"name": "sig_not_base64url", "envelope": {**valid, "sig": "!!!"}, "expect": "reject", "reason": "malformed"},
        {"name": "key_announcement_is_not_a_job",
         "envelope": announcement(announced(1, (KID, key)), {KID: key}), "expect": "reject", "reason": "malformed"},
    ]
    return out


# -- key announcements -------------------------------------------------------------------------------

def announced(serial: int, *keys: tuple[str, Ed25519PrivateKey]) -> dict[str, Any]:
    """An announcement payload of these (kid, key) pairs, sorted by kid as the control plane sends them."""
    entries = sorted(({"kid": kid, "public_key": public_b64(key)} for kid, key in keys), key=lambda e: e["kid"])
    return {"v": 1, "type": "signing_keys", "serial": serial, "keys": entries}


def announcement(payload: dict[str, Any], signers: dict[str, Ed25519PrivateKey]) -> dict[str, Any]:
    body = canonical(payload)
    return {"v": 1, "payload": b64url(body),
            "sigs": [{"kid": kid, "sig": b64url(key.sign(body))} for kid, key in sorted(signers.items())]}


def accepted(name: str, payload: dict[str, Any], signers: dict[str, Ed25519PrivateKey],
             **extra: Any) -> dict[str, Any]:
    return {"name": name, "payload": payload, "signers": sorted(signers), "envelope": announcement(payload, signers),
            "expect": "accept", **extra}


def refused(name: str, envelope: Any, reason: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "envelope": envelope, "expect": "reject", "reason": reason, **extra}


def announcement_cases(old: Ed25519PrivateKey, new: Ed25519PrivateKey,
                       rogue: Ed25519PrivateKey) -> list[dict[str, Any]]:
    k1, k2, k3 = (KID, old), (NEW_KID, new), (ROGUE_KID, rogue)
    both = announced(2, k1, k2)
    valid = announcement(both, {KID: old, NEW_KID: new})
    tampered = {**valid, "payload": b64url(canonical(announced(2, k1, k3)))}
    return [
        accepted("a_new_key_signed_by_every_key", both, {KID: old, NEW_KID: new}),
        accepted("a_new_key_signed_by_the_pinned_one", both, {KID: old}),
        accepted("the_pinned_set_again", announced(1, k1), {KID: old}),
        accepted("the_pinned_key_retired_by_itself", announced(3, k2), {KID: old}),
        refused("retired_by_a_key_never_pinned", announcement(announced(3, k2), {NEW_KID: new}), "unknown_kid"),
        refused("signed_by_an_unknown_key", announcement(announced(2, k1, k3), {ROGUE_KID: rogue}),
                "unknown_kid"),
        refused("unknown_key_under_a_pinned_kid", announcement(announced(2, k1, k3), {KID: rogue}),
                "bad_signature"),
        refused("tampered_payload", tampered, "bad_signature"),
        refused("older_serial_replayed", announcement(announced(2, k1, k2), {KID: old}), "rollback",
                pinned_serial=3),
        refused("same_serial_other_keys", announcement(announced(1, k1, k2), {KID: old}), "rollback"),
        refused("envelope_extra_field", {**valid, "kid": KID}, "malformed"),
        refused("envelope_version_2", {**valid, "v": 2}, "malformed"),
        refused("no_signatures", {**valid, "sigs": []}, "malformed"),
        refused("payload_extra_field", announcement({**both, "active": KID}, {KID: old}), "malformed"),
        refused("payload_other_type", announcement({**both, "type": "job"}, {KID: old}), "malformed"),
        refused("payload_serial_float", announcement({**both, "serial": 2.0}, {KID: old}), "malformed"),
        refused("payload_no_keys", announcement({**both, "keys": []}, {KID: old}), "malformed"),
        refused("payload_kid_twice", announcement(announced(2, k1, (KID, new)), {KID: old}), "malformed"),
        refused("payload_key_too_short",
                announcement({**both, "keys": [{"kid": KID, "public_key": b64url(b"short")}]}, {KID: old}),
                "malformed"),
        refused("payload_not_canonical", {**valid, "payload": b64url(json.dumps(both).encode()),
                                          "sigs": [{"kid": KID, "sig": b64url(old.sign(json.dumps(both).encode()))}]},
                "malformed"),
        refused("a_signed_job_is_not_an_announcement", envelope(base_payload(), old), "malformed"),
    ]


def main() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    other = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)
    doc = {
        "description": "Signed-job vectors, see docs/protocol.md. Generated by generate.py.",
        "signing_key_seed_hex": SEED.hex(),
        "keys": [{"kid": KID, "public_key": public_b64(key)}],
        "agent_id": AGENT_ID,
        "now": NOW,
        "allowed_ops": ["vm.start", "vm.shutdown", "vm.force_stop", "vm.reboot", "vm.suspend", "vm.resume"],
        "cases": cases(key, other),
    }
    out = Path(__file__).with_name("signed_jobs.json")
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    new = Ed25519PrivateKey.from_private_bytes(NEW_SEED)
    announcements = {
        "description": "Signed key-announcement vectors, see docs/protocol.md. Generated by generate.py. "
                       "Each case is checked against the pinned keys, at serial `pinned_serial` (default 1).",
        "signing_key_seeds_hex": {KID: SEED.hex(), NEW_KID: NEW_SEED.hex()},
        "pinned": [{"kid": KID, "public_key": public_b64(key)}],
        "pinned_serial": 1,
        "cases": announcement_cases(key, new, other),
    }
    Path(__file__).with_name("key_announcements.json").write_text(
        json.dumps(announcements, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
