"""Guided deployments end to end over real HTTP (dynalite, moto's server, the API server): an
operator of their own enrols a host that speaks the agent protocol from this test, keeps an SSH key,
deploys Windows Server and Ubuntu, and the host claims the jobs through the real poll. The Windows
password is sealed with the stack's sealing keyring (created from the template like the others) and
is in clear only in the signed payload; progress reported on the lease call shows on the job."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fleetvisor_agent import jobs as agent_jobs

from infra.local import LocalStack

pytestmark = pytest.mark.e2e
PASSWORD = "e2e operator password 1"


class Host:
    """A host enrolled over HTTP that answers as an agent would (its own key, its own JWTs)."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.key = url, Ed25519PrivateKey.generate()
        public = base64.urlsafe_b64encode(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        answer = requests.post(f"{url}/agent/v1/register", timeout=10, json={
            "token": token, "name": f"deploy-{uuid.uuid4().hex[:6]}", "hostname": "h", "capabilities": {},
            "public_key": public.rstrip(b"=").decode()})
        assert answer.status_code == 200, answer.text
        self.agent_id = answer.json()["agent_id"]
        beat = self.post("/agent/v1/heartbeat", {"capabilities": {}, "vms": [], "running_jobs": []})
        assert beat.status_code == 200, beat.text

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        now = int(time.time())
        token = jwt.encode({"sub": self.agent_id, "aud": "fleetvisor-agent-api", "iat": now, "exp": now + 120,
                            "jti": secrets.token_hex(8)}, self.key, algorithm="EdDSA", headers={"typ": "fv-agent+jwt"})
        return requests.post(self.url + path, json=body, timeout=30, headers={"Authorization": f"Bearer {token}"})

    def claim(self) -> dict[str, Any]:
        answer = self.post("/agent/v1/poll?wait=5", {"max_jobs": 1})
        assert answer.status_code == 200, answer.text
        (job,) = answer.json()["jobs"]
        payload = job["envelope"]["payload"]
        return {**job, "payload": json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))}

    def succeed(self, claimed: dict[str, Any], data: dict[str, Any], summary: str) -> None:
        """Ends a claimed job as done, `data` its result document's."""
        put = requests.put(claimed["uploads"]["result"]["url"], timeout=10, data=json.dumps(
            {"job_id": claimed["job_id"], "ok": True, "data": data}).encode())
        assert put.status_code == 200, put.text
        done = self.post(f"/agent/v1/jobs/{claimed['job_id']}/complete", {
            "claim_token": claimed["claim_token"], "exit_code": 0, "summary": summary, "outputs": ["result"]})
        assert done.status_code == 200, done.text


@pytest.fixture(scope="module")
def operator(stack: LocalStack) -> requests.Session:
    admin = {"Authorization": f"Bearer {stack.login()}"}
    email = f"deployer-{uuid.uuid4().hex[:8]}@example.com"
    made = requests.post(f"{stack.url}/api/users", headers=admin, timeout=10,
                         json={"email": email, "password": PASSWORD, "role": "operator"})
    assert made.status_code == 201, made.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login(email, PASSWORD)}"
    return session


def test_deploying_over_http(stack: LocalStack, operator: requests.Session) -> None:
    url = stack.url
    profiles = operator.get(f"{url}/api/profiles", timeout=10).json()["profiles"]
    assert {p["id"] for p in profiles} >= {"ubuntu-24.04", "windows-server-2022"}
    token = operator.post(f"{url}/api/enrollment-tokens", json={"uses": 1}, timeout=10).json()["token"]
    host = Host(url, token)
    key = operator.post(f"{url}/api/ssh-keys/generate", json={"name": "e2e"}, timeout=10).json()

    refused = operator.post(f"{url}/api/agents/{host.agent_id}/deployments", timeout=10, json={
        "profile": "ubuntu-24.04", "inputs": {"hostname": "-", "ssh_keys": ["nope"]}})
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"inputs.hostname", "inputs.ssh_keys"}
    assert operator.get(f"{url}/api/jobs?agent_id={host.agent_id}", timeout=10).json()["jobs"] == []

    windows = operator.post(f"{url}/api/agents/{host.agent_id}/deployments", timeout=10, json={
        "profile": "windows-server-2022", "inputs": {"computer_name": "win-e2e", "iso_source": "pool",
                                                     "iso_volume": "eval.iso", "iso_sha256": "0" * 64}})
    assert windows.status_code == 202, windows.text
    password = windows.json()["generated_password"]
    job_id = windows.json()["job_id"]
    assert password not in operator.get(f"{url}/api/jobs/{job_id}", timeout=10).text
    claimed = host.claim()
    assert claimed["job_id"] == job_id and claimed["payload"]["op"] == "vm.deploy"
    # The agent runs only what its own schema of vm.deploy accepts: the two sides' contract.
    assert agent_jobs.args_valid("vm.deploy", claimed["payload"]["args"])
    unattend = claimed["payload"]["args"]["cdroms"][1]["generated"]["files"]["Autounattend.xml"]
    assert f"<Value>{password}</Value>" in unattend

    progress = {"step": "downloading", "percent": 10}
    lease = host.post(f"/agent/v1/jobs/{job_id}/lease", {"claim_token": claimed["claim_token"], "running": True,
                                                         "progress": progress})
    assert lease.status_code == 200, lease.text
    assert operator.get(f"{url}/api/jobs/{job_id}", timeout=10).json()["progress"] == progress
    bad = host.post(f"/agent/v1/jobs/{job_id}/lease", {"claim_token": claimed["claim_token"],
                                                       "progress": {"step": "downloading", "percent": 500}})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_progress")

    # Windows with the virtio-win driver ISO: refused without its checksum, naming the field, and nothing made;
    # with it, a third CD-ROM between the installer and the answer file, virtio disk and NIC, driver paths.
    drivers = {"drivers_source": "url", "drivers_url": "https://example.com/virtio-win.iso"}
    jobs_before = operator.get(f"{url}/api/jobs?agent_id={host.agent_id}", timeout=10).json()["jobs"]
    no_checksum = operator.post(f"{url}/api/agents/{host.agent_id}/deployments", timeout=10, json={
        "profile": "windows-server-2022", "inputs": {"computer_name": "win-drv", "iso_source": "pool",
                                                     "iso_volume": "eval.iso", "iso_sha256": "0" * 64, **drivers}})
    assert no_checksum.status_code == 400, no_checksum.text
    assert set(no_checksum.json()["error"]["fields"]) == {"inputs.drivers_sha256"}
    assert operator.get(f"{url}/api/jobs?agent_id={host.agent_id}", timeout=10).json()["jobs"] == jobs_before
    with_drivers = operator.post(f"{url}/api/agents/{host.agent_id}/deployments", timeout=10, json={
        "profile": "windows-server-2022", "inputs": {"computer_name": "win-drv", "iso_source": "pool",
                                                     "iso_volume": "eval.iso", "iso_sha256": "0" * 64,
                                                     **drivers, "drivers_sha256": "1" * 64}})
    assert with_drivers.status_code == 202, with_drivers.text
    driver_args = host.claim()["payload"]["args"]
    assert agent_jobs.args_valid("vm.deploy", driver_args)
    installer_iso, driver_iso, answer = driver_args["cdroms"]
    assert installer_iso["source"]["volume"] == "eval.iso"
    assert driver_iso["source"] == {"url": "https://example.com/virtio-win.iso", "sha256": "1" * 64,
                                    "max_bytes": 2147483648}
    assert (driver_args["disk_bus"], driver_args["nic_model"]) == ("virtio", "virtio")
    assert "<Path>E:\\viostor\\2k22\\amd64</Path>" in answer["generated"]["files"]["Autounattend.xml"]

    ubuntu = operator.post(f"{url}/api/agents/{host.agent_id}/deployments", timeout=10, json={
        "profile": "ubuntu-24.04", "installers": ["docker"],
        "inputs": {"hostname": "web-e2e", "ssh_keys": [key["key_id"]]}})
    assert ubuntu.status_code == 202, ubuntu.text
    ubuntu_args = host.claim()["payload"]["args"]
    assert agent_jobs.args_valid("vm.deploy", ubuntu_args)
    user_data = ubuntu_args["cdroms"][0]["generated"]["files"]["user-data"]
    assert key["public_key"] in user_data and "/etc/fleetvisor/installers/01-docker.env" in user_data
    logs = "".join(path.read_text(errors="replace") for path in (stack.root / "logs").glob("*.log"))
    assert logs and password not in logs and key["private_key"].splitlines()[1] not in logs
