"""Write signed_jobs.json: the signed-job test vectors both sides are held to.

The control plane's signer must reproduce every `accept` envelope byte for byte
(Ed25519 is deterministic), and the agent's verifier must accept exactly those
and refuse every other case with the named reason. The key is derived from a
public seed: it signs nothing but these vectors.

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
KID = "test-vector-1"
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
    ]
    return out


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


if __name__ == "__main__":
    main()
