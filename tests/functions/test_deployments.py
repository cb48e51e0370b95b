"""Guided deployments through the API: profiles and installers with their forms' schemas, the
deployment job (202), refusals that name each field and create nothing, names already taken,
passwords never stored or logged in clear, the Windows password sealed until the job is signed,
operators' own manifests, SSH keys in the account, and progress on the lease call."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from chalice.test import Client
from chalicelib import sealing
from chalicelib.audit.models import AuditRecord
from chalicelib.deployments.models import Manifest, SshKey
from chalicelib.jobs.models import Job
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .conftest import FakeHost, Operator

PASSWORD = "correct horse battery staple"


def openssh(key: Any) -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


KEY = openssh(ed25519.Ed25519PrivateKey.generate())


def post(client: Client, path: str, who: Operator | FakeHost, body: dict[str, Any]) -> Any:
    return client.http.post(path, headers=who.headers, body=json.dumps(body))


def deploy(client: Client, op: Operator, host: FakeHost, body: dict[str, Any]) -> Any:
    return post(client, f"/api/agents/{host.agent_id}/deployments", op, body)


def ubuntu(**inputs: Any) -> dict[str, Any]:
    return {"profile": "ubuntu-24.04", "inputs": {"hostname": "web-1", "ssh_keys": [KEY], **inputs}}


WINDOWS = {"profile": "windows-server-2022",
           "inputs": {"computer_name": "win-1", "iso_url": "https://example.com/eval.iso", "iso_sha256": "ab" * 32}}


def stored(owner_id: str) -> str:
    """Everything stored for an owner's jobs and audit trail, as text."""
    items = list(Job.by_owner.query(owner_id)) + list(AuditRecord.query(owner_id))
    return json.dumps([item.attribute_values for item in items], default=str)


def claim(client: Client, host: FakeHost) -> dict[str, Any]:
    answer = post(client, "/agent/v1/poll?wait=0", host, {"max_jobs": 1})
    assert answer.status_code == 200, answer.body
    (job,) = answer.json_body["jobs"]
    payload = job["envelope"]["payload"]
    return {**job, "payload": json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))}


def test_profiles_and_installers_come_with_their_forms_schemas(client: Client, make_operator: Any) -> None:
    op = make_operator()
    profiles = client.http.get("/api/profiles", headers=op.headers).json_body["profiles"]
    assert [p["id"] for p in profiles] == ["ubuntu-24.04", "windows-server-2022"]
    ubuntu_view = profiles[0]
    assert ubuntu_view["builtin"] is True and ubuntu_view["inputs_schema"]["type"] == "object"
    assert ubuntu_view["inputs_schema"]["properties"]["password"]["writeOnly"] is True
    assert ubuntu_view["sizing_schema"]["properties"]["memory_mib"]["default"] == 4096
    installers = client.http.get("/api/installers", headers=op.headers).json_body["installers"]
    assert [i["id"] for i in installers] == ["docker", "nginx"]


def test_a_deployment_answers_202_with_its_job_and_stores_no_password(client: Client, make_operator: Any,
                                                                       enrol: Any, caplog: Any) -> None:
    op = make_operator()
    host = enrol(op)
    caplog.set_level(logging.DEBUG)
    answer = deploy(client, op, host, {**ubuntu(password=PASSWORD), "installers": ["nginx"]})
    assert answer.status_code == 202, answer.body
    job = answer.json_body
    assert job["op"] == "vm.deploy" and job["status"] == "queued" and "generated_password" not in job
    assert job["args"]["name"] == "web-1" and job["args"]["cdroms"][0]["generated"]["label"] == "cidata"
    assert PASSWORD not in stored(op.user_id) and PASSWORD not in caplog.text and PASSWORD not in answer.body.decode()
    (record,) = [r for r in AuditRecord.query(op.user_id) if r.action == "vm.deploy"]
    assert record.detail["profile"] == "ubuntu-24.04" and record.detail["installers"] == ["nginx"]
    assert record.detail["job_id"] == job["job_id"] and record.target == f"{host.agent_id}/web-1"


def test_refusals_name_each_field_and_create_nothing(client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    answer = deploy(client, op, host, {"profile": "ubuntu-24.04", "installers": ["nginx", "mysql"],
                                       "inputs": {"hostname": "bad_name", "ssh_keys": ["ssh-rsa AAAA"],
                                                  "password": PASSWORD},
                                       "sizing": {"vcpus": 0, "memory_mib": 1 << 40}})
    assert answer.status_code == 400
    error = answer.json_body["error"]
    assert error["code"] == "invalid_inputs"
    assert set(error["fields"]) == {"inputs.hostname", "inputs.ssh_keys", "installers", "sizing.vcpus",
                                    "sizing.memory_mib"}
    assert list(Job.by_owner.query(op.user_id)) == []
    assert [r.action for r in AuditRecord.query(op.user_id) if r.action == "vm.deploy"] == []
    assert PASSWORD not in stored(op.user_id)


@pytest.mark.parametrize(("body", "field"), [
    ({"profile": "nope"}, "profile"),
    ({**ubuntu(), "name": "no spaces"}, "name"),
    ({**ubuntu(), "extra": 1}, "extra"),
    ({**ubuntu(), "installers": [{"id": "nginx", "inputs": {"port": 0}}]}, "installers.nginx.port"),
    ({**ubuntu(), "sizing": {"gpus": 1}}, "sizing.gpus"),
    ({**WINDOWS, "installers": ["nginx"]}, "installers"),
    ({**WINDOWS, "inputs": {**WINDOWS["inputs"], "computer_name": "sixteen-chars-xx"}}, "inputs.computer_name"),
])
def test_each_kind_of_bad_field_is_named(client: Client, make_operator: Any, enrol: Any, body: dict[str, Any],
                                         field: str) -> None:
    op = make_operator()
    answer = deploy(client, op, enrol(op), body)
    assert answer.status_code == 400 and field in answer.json_body["error"]["fields"], answer.body
    assert list(Job.by_owner.query(op.user_id)) == []


def test_a_name_the_host_already_has_is_a_409(client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)  # its inventory holds a VM named "test"
    answer = deploy(client, op, host, ubuntu(hostname="test"))
    assert (answer.status_code, answer.json_body["error"]["code"]) == (409, "name_taken")
    assert list(Job.by_owner.query(op.user_id)) == []


def test_another_owners_host_is_not_found(client: Client, make_operator: Any, enrol: Any) -> None:
    owner, other = make_operator(), make_operator()
    answer = deploy(client, other, enrol(owner), ubuntu())
    assert answer.status_code == 404 and list(Job.by_owner.query(other.user_id)) == []


def test_the_windows_password_is_sealed_until_the_job_is_signed(client: Client, make_operator: Any,
                                                                enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    answer = deploy(client, op, host, WINDOWS)
    assert answer.status_code == 202, answer.body
    generated = answer.json_body["generated_password"]
    job_id = answer.json_body["job_id"]
    assert generated not in stored(op.user_id)
    assert generated not in client.http.get(f"/api/jobs/{job_id}", headers=op.headers).body.decode()
    record = Job.get(job_id)
    assert record.sealed and generated not in record.sealed
    with pytest.raises(sealing.SealError):
        sealing.unseal(record.sealed, "job_" + "0" * 32)  # bound to its own job
    signed = claim(client, host)["payload"]
    unattend = signed["args"]["cdroms"][1]["generated"]["files"]["Autounattend.xml"]
    assert unattend.count(f"<Value>{generated}</Value>") == 2 and "FV-SEALED-" not in unattend
    assert generated not in stored(op.user_id)


def test_a_given_windows_password_is_neither_echoed_nor_stored(client: Client, make_operator: Any,
                                                               enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    answer = deploy(client, op, host, {**WINDOWS, "inputs": {**WINDOWS["inputs"], "admin_password": "Pa<ss>&w0rd!!x"}})
    assert answer.status_code == 202 and "generated_password" not in answer.json_body
    assert "Pa<ss>&w0rd!!x" not in stored(op.user_id) and "Pa&lt;ss&gt;" not in stored(op.user_id)
    unattend = claim(client, host)["payload"]["args"]["cdroms"][1]["generated"]["files"]["Autounattend.xml"]
    assert "<Value>Pa&lt;ss&gt;&amp;w0rd!!x</Value>" in unattend


def test_an_idempotent_retry_returns_the_same_job(client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    headers = {**op.headers, "Idempotency-Key": "deploy-web-1"}
    first = client.http.post(f"/api/agents/{host.agent_id}/deployments", headers=headers, body=json.dumps(ubuntu()))
    again = client.http.post(f"/api/agents/{host.agent_id}/deployments", headers=headers, body=json.dumps(ubuntu()))
    assert first.json_body["job_id"] == again.json_body["job_id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.http.post(f"/api/agents/{host.agent_id}/deployments", headers=headers,
                             body=json.dumps(ubuntu(hostname="web-2")))
    assert (other.status_code, other.json_body["error"]["code"]) == (409, "idempotency_conflict")


# --- progress on the lease call -----------------------------------------------------------------

def test_progress_is_stored_and_shown_and_bad_progress_refused(client: Client, make_operator: Any,
                                                               enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    job_id = deploy(client, op, host, ubuntu()).json_body["job_id"]
    token = claim(client, host)["claim_token"]
    lease = f"/agent/v1/jobs/{job_id}/lease"
    good = {"step": "downloading", "percent": 40, "detail": "noble-server-cloudimg-amd64.img"}
    assert post(client, lease, host, {"claim_token": token, "running": True, "progress": good}).status_code == 200
    assert client.http.get(f"/api/jobs/{job_id}", headers=op.headers).json_body["progress"] == good
    for bad in ({"step": "dancing"}, {"step": "booting", "percent": 101}, {"step": "booting", "percent": "5"},
                {"step": "booting", "percent": True}, {"step": "booting", "detail": "x" * 201},
                {"step": "booting", "detail": "bell\x07"}, {"step": "booting", "eta": 3}, ["booting"]):
        answer = post(client, lease, host, {"claim_token": token, "progress": bad})
        assert (answer.status_code, answer.json_body["error"]["code"]) == (400, "invalid_progress"), bad
    assert Job.get(job_id).progress == good
    assert post(client, lease, host, {"claim_token": token, "progress": {"step": "first_boot"}}).status_code == 200
    assert Job.get(job_id).progress == {"step": "first_boot"}


def test_progress_bumps_the_owners_change_feed(client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    job_id = deploy(client, op, host, ubuntu()).json_body["job_id"]
    token = claim(client, host)["claim_token"]
    before = client.http.get("/api/changes", headers=op.headers).json_body["version"]
    post(client, f"/agent/v1/jobs/{job_id}/lease", host, {"claim_token": token, "progress": {"step": "booting"}})
    assert client.http.get("/api/changes", headers=op.headers).json_body["version"] == before + 1


# --- operators' own manifests ---------------------------------------------------------------------

OWN = """kind: installer
id: hello
version: 1
title: Hello
first_boot: [cloud-init]
timeout_seconds: 60
inputs:
  - {name: who, type: string, default: world, env: WHO}
  - {name: secret, type: password, env: SECRET}
script: |
  #!/bin/sh
  echo "hello $WHO"
"""


def test_an_operators_manifest_is_checked_stored_audited_and_usable(client: Client, make_operator: Any,
                                                                     enrol: Any) -> None:
    op, other = make_operator(), make_operator()
    answer = post(client, "/api/manifests", op, {"manifest": OWN})
    assert answer.status_code == 201, answer.body
    assert answer.json_body["builtin"] is False and answer.json_body["text"] == OWN
    assert "hello" in [i["id"] for i in client.http.get("/api/installers", headers=op.headers).json_body["installers"]]
    assert "hello" not in [i["id"] for i in
                           client.http.get("/api/installers", headers=other.headers).json_body["installers"]]
    assert [r.action for r in AuditRecord.query(op.user_id) if r.action.startswith("manifest.")] == ["manifest.create"]
    host = enrol(op)
    made = deploy(client, op, host, {**ubuntu(), "installers": [{"id": "hello", "inputs": {"secret": PASSWORD}}]})
    assert made.status_code == 202, made.body
    assert PASSWORD not in stored(op.user_id)  # an installer's password input is sealed too
    user_data = claim(client, host)["payload"]["args"]["cdroms"][0]["generated"]["files"]["user-data"]
    assert f"SECRET='{PASSWORD}'" in user_data
    assert deploy(client, other, enrol(other), {**ubuntu(), "installers": ["hello"]}).status_code == 400
    assert client.http.get("/api/manifests/hello", headers=other.headers).status_code == 404
    assert client.http.delete("/api/manifests/hello", headers=other.headers).status_code == 404
    assert client.http.delete("/api/manifests/hello", headers=op.headers).status_code == 200
    assert client.http.get("/api/manifests/hello", headers=op.headers).status_code == 404


@pytest.mark.parametrize(("text", "status", "code"), [
    (OWN.replace("timeout_seconds: 60", "timeout_seconds: 1"), 400, "invalid_manifest"),
    (OWN.replace("id: hello", "id: nginx"), 409, "manifest_exists"),
    ("not: [yaml", 400, "invalid_manifest"),
    (OWN + "#" * 70_000, 400, "invalid_manifest"),
    (OWN.replace("title: Hello", "title: Hello\n" + "# padding\n" * 10_000), 413, "payload_too_large"),
])
def test_bad_manifests_are_refused_and_nothing_is_stored(client: Client, make_operator: Any, text: str,
                                                        status: int, code: str) -> None:
    op = make_operator()
    answer = post(client, "/api/manifests", op, {"manifest": text})
    assert (answer.status_code, answer.json_body["error"]["code"]) == (status, code), answer.body
    assert list(Manifest.query(op.user_id)) == []
    assert [r for r in AuditRecord.query(op.user_id) if r.action.startswith("manifest.")] == []


def test_a_bad_manifest_names_where(client: Client, make_operator: Any) -> None:
    answer = post(client, "/api/manifests", make_operator(), {"manifest": OWN.replace("type: string", "type: colour")})
    assert "inputs[0].type" in answer.json_body["error"]["fields"]


def test_the_same_id_twice_is_a_409(client: Client, make_operator: Any) -> None:
    op = make_operator()
    assert post(client, "/api/manifests", op, {"manifest": OWN}).status_code == 201
    answer = post(client, "/api/manifests", op, {"manifest": OWN})
    assert (answer.status_code, answer.json_body["error"]["code"]) == (409, "manifest_exists")


# --- SSH keys in the account -----------------------------------------------------------------------

def test_ssh_keys_are_added_with_fingerprints_listed_and_removed(client: Client, make_operator: Any) -> None:
    op, other = make_operator(), make_operator()
    added = post(client, "/api/ssh-keys", op, {"name": "laptop", "public_key": KEY + " me@laptop"})
    assert added.status_code == 201, added.body
    key = added.json_body
    assert key["fingerprint"].startswith("SHA256:") and key["type"] == "ssh-ed25519" and key["bits"] == 256
    again = post(client, "/api/ssh-keys", op, {"name": "same", "public_key": KEY})
    assert (again.status_code, again.json_body["error"]["code"]) == (409, "ssh_key_exists")
    listed = client.http.get("/api/ssh-keys", headers=op.headers).json_body["ssh_keys"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert client.http.get("/api/ssh-keys", headers=other.headers).json_body["ssh_keys"] == []
    assert client.http.delete(f"/api/ssh-keys/{key['key_id']}", headers=other.headers).status_code == 404
    assert client.http.delete(f"/api/ssh-keys/{key['key_id']}", headers=op.headers).status_code == 200
    assert list(SshKey.query(op.user_id)) == []
    actions = [r.action for r in AuditRecord.query(op.user_id) if r.action.startswith("ssh_key.")]
    assert sorted(actions) == ["ssh_key.add", "ssh_key.remove"]


def test_weak_or_malformed_keys_are_refused_naming_the_field(client: Client, make_operator: Any) -> None:
    op = make_operator()
    weak = openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    for text in (weak, "ssh-ed25519 AAAA", "hello"):
        answer = post(client, "/api/ssh-keys", op, {"name": "k", "public_key": text})
        assert answer.status_code == 400 and "public_key" in answer.json_body["error"]["fields"]
    assert list(SshKey.query(op.user_id)) == []


def test_a_generated_pair_shows_its_private_half_once_and_never_stores_it(client: Client, make_operator: Any,
                                                                          enrol: Any) -> None:
    op = make_operator()
    answer = post(client, "/api/ssh-keys/generate", op, {"name": "deploy key"})
    assert answer.status_code == 201
    private = answer.json_body["private_key"]
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    (item,) = SshKey.query(op.user_id)
    assert "PRIVATE" not in json.dumps(item.attribute_values, default=str)
    assert "private_key" not in client.http.get("/api/ssh-keys", headers=op.headers).json_body["ssh_keys"][0]
    assert private not in stored(op.user_id)
    host = enrol(op)
    made = deploy(client, op, host, ubuntu(ssh_keys=[answer.json_body["key_id"]]))
    assert made.status_code == 202, made.body
    assert made.json_body["args"]["cdroms"][0]["generated"]["files"]["user-data"].count(item.public_key) == 1


def test_a_job_whose_sealing_key_was_retired_fails_at_its_claim_and_others_still_go(
        client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    windows = deploy(client, op, host, WINDOWS).json_body["job_id"]
    ubuntu_job = deploy(client, op, host, ubuntu()).json_body["job_id"]
    record = Job.get(windows)
    blob = json.loads(record.sealed)
    record.update(actions=[Job.sealed.set(json.dumps({**blob, "kid": "seal-retired"}))])
    answer = post(client, "/agent/v1/poll?wait=0", host, {"max_jobs": 5})
    assert [job["job_id"] for job in answer.json_body["jobs"]] == [ubuntu_job]
    failed = Job.get(windows)
    assert (failed.status, int(failed.exit_code)) == ("failed", 3) and "sealing key" in failed.summary


@pytest.mark.parametrize("name", ["clé de déploiement²", "   ", "<script>"])
def test_a_generated_key_takes_any_printable_name(client: Client, make_operator: Any, name: str) -> None:
    answer = post(client, "/api/ssh-keys/generate", make_operator(), {"name": name})
    assert answer.status_code == 201, answer.body
    assert answer.json_body["name"] == name


def test_the_manifest_schema_is_served_and_exit_codes_explained(client: Client, make_operator: Any) -> None:
    schema = client.http.get("/api/manifest-schema").json_body
    assert schema["$id"].endswith("manifest-v1.json") and "installer" in schema["$defs"]
    codes = client.http.get("/api/installers", headers=make_operator().headers).json_body["exit_codes"]
    assert sorted(codes, key=int) == ["0", "1", "2", "3", "124"] and codes["124"]["meaning"] == "timeout"


def test_sealed_secrets_open_only_for_their_job_and_unaltered(app: Any) -> None:
    job_id = "job_" + "1" * 32
    blob = sealing.seal({"FV-SEALED-" + "a" * 32: "s3cret"}, job_id)
    assert "s3cret" not in blob
    args = {"files": {"x": "pw=FV-SEALED-" + "a" * 32 + ";"}, "n": 1}
    assert sealing.reveal(args, blob, job_id) == {"files": {"x": "pw=s3cret;"}, "n": 1}
    assert sealing.reveal(args, None, job_id) == args
    doc = json.loads(blob)
    flipped = doc["ct"][:-2] + ("A" if doc["ct"][-2] != "A" else "B") + doc["ct"][-1]
    for bad in (json.dumps({**doc, "ct": flipped}), json.dumps({**doc, "nonce": doc["ct"][:16]}), "not json", "{}"):
        with pytest.raises(sealing.SealError):
            sealing.unseal(bad, job_id)
    with pytest.raises(sealing.SealError):
        sealing.unseal(blob, "job_" + "2" * 32)
