"""What `make deploy` ships, proven offline: the packaged template lints and translates, its stack is
created and upgraded in moto's CloudFormation (workarounds in infra/offline.py), and the unzipped
deployment.zip runs Lambda-style (infra/lambda_style.py) under moto's IAM enforcement with the stack's
own role: a scenario from health to a swept claim, a denied call on another stage, and peak memory.

One packaged dist/dev, one moto server and one stack per module: about 40 s in all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra import deploy, offline
from infra.lambda_style import LambdaProcess, function_environment, function_resource, scheduled_event, unzip
from tests.functions.conftest import VM, FakeHost, public_b64

STAGE = "dev"
STACK = "fleetvisor-dev"
PUBLIC_URL = f"https://{offline.PLACEHOLDER_DOMAIN}"
ADMIN = "admin@fleetvisor.example"
API, SWEEPER = "app.app", "chalicelib.jobs.routes.sweep_jobs"
CLAIM_ACK_SECONDS = 1
DENIED = ("AccessDenied", "not authorized", "UnrecognizedClient", "InvalidClientTokenId")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[offline.MotoServer]:
    server = offline.MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(dist: Path, moto: offline.MotoServer) -> offline.OfflineStack:
    """The stack created with Stage=dev (no PublicUrl yet, as a first deploy), keyrings in its secrets."""
    return offline.stand_up(dist, moto, STAGE, STACK)


@pytest.fixture(scope="module")
def translated(stack: offline.OfflineStack) -> dict[str, Any]:
    return stack.translated


@pytest.fixture(scope="module")
def upgraded(stack: offline.OfflineStack, moto: offline.MotoServer) -> dict[str, Any]:
    """Data written after the create, then the second deploy `make deploy` does: PublicUrl filled in."""
    table, bucket = stack.ids["UsersTable"], stack.ids["ObjectsBucket"]
    moto.client("dynamodb").put_item(TableName=table, Item={"user_id": {"S": "u_survivor"}})
    moto.client("s3").put_object(Bucket=bucket, Key="results/survivor.json", Body=b"{}")
    ids = stack.deploy({"PublicUrl": PUBLIC_URL})
    return {"ids": ids, "table": table, "bucket": bucket}


@pytest.fixture(scope="module")
def role(upgraded: dict[str, Any], moto: offline.MotoServer) -> dict[str, str]:
    return moto.assume(upgraded["ids"]["DefaultRole"])


@pytest.fixture(scope="module")
def package(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unzip(dist / "deployment.zip", tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="module")
def api(package: Path, stack: offline.OfflineStack, role: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaProcess]:
    env = stack.lambda_env(API, role, FLEETVISOR_CLAIM_ACK_SECONDS=str(CLAIM_ACK_SECONDS))
    process = LambdaProcess(package, env, tmp_path_factory.mktemp("api") / "api.log")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sweeper(package: Path, stack: offline.OfflineStack, role: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaProcess]:
    process = LambdaProcess(package, stack.lambda_env(SWEEPER, role), tmp_path_factory.mktemp("sweeper") / "log")
    yield process
    process.stop()


# -- the packaged template ------------------------------------------------------------------------
def test_the_packaged_template_passes_cfn_lint(dist: Path) -> None:
    out = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(dist / "sam.yaml")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_sam_translation_makes_both_functions_with_the_templates_role(translated: dict[str, Any]) -> None:
    functions = {n: r["Properties"] for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert {p["Handler"] for p in functions.values()} == {API, SWEEPER}
    assert all(p["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]} for p in functions.values())


# -- create, then upgrade -------------------------------------------------------------------------
def test_data_written_between_two_deploys_survives_the_upgrade(upgraded: dict[str, Any],
                                                              moto: offline.MotoServer) -> None:
    item = moto.client("dynamodb").get_item(TableName=upgraded["table"], Key={"user_id": {"S": "u_survivor"}})
    body = moto.client("s3").get_object(Bucket=upgraded["bucket"], Key="results/survivor.json")["Body"].read()
    assert (item["Item"]["user_id"]["S"], body) == ("u_survivor", b"{}")


def test_the_upgrade_hands_the_functions_the_public_url(upgraded: dict[str, Any], translated: dict[str, Any],
                                                        stack: offline.OfflineStack) -> None:
    params, stack_id = stack.parameters()
    for handler in (API, SWEEPER):
        env = function_environment(translated, function_resource(translated, handler)[1], params, stack_id, STACK,
                                   attributes=stack.role_arns())
        assert env["FLEETVISOR_PUBLIC_URL"] == PUBLIC_URL
        assert env["FLEETVISOR_BUCKET"] == upgraded["bucket"]
        assert env["FLEETVISOR_STAGE"] == STAGE


# -- the package, Lambda-style, with the stack's role ---------------------------------------------
def test_the_package_loads_its_own_pinned_sdk(api: LambdaProcess, package: Path) -> None:
    probe = api.probe()
    assert Path(probe["boto3"]).is_relative_to(package) and Path(probe["botocore"]).is_relative_to(package)
    assert not any("site-packages" in entry for entry in probe["sys_path"])


def _operator_login(api: LambdaProcess, stack: offline.OfflineStack) -> dict[str, str]:
    admin = deploy.ensure_first_admin(stack.admin_env(), ADMIN)
    assert admin, "the stage already had an admin"
    status, body = api.http("POST", "/api/auth/login", body={"email": ADMIN, "password": admin["password"]},
                            headers={"Content-Type": "application/json"})
    assert status == 200, body
    return {"Authorization": f"Bearer {body['access_token']}", "Content-Type": "application/json"}


def _enrol(api: LambdaProcess, operator: dict[str, str], name: str = "lambda-host") -> FakeHost:
    status, minted = api.http("POST", "/api/enrollment-tokens", headers=operator, body={})
    assert status == 201, minted
    key = Ed25519PrivateKey.generate()
    status, registered = api.http("POST", "/agent/v1/register", headers={"Content-Type": "application/json"},
                                  body={"token": minted["token"], "name": name, "hostname": "h1",
                                        "public_key": public_b64(key), "capabilities": {}})
    assert status == 200, registered
    host = FakeHost(registered["agent_id"], key)
    status, beat = api.http("POST", "/agent/v1/heartbeat", headers=host.headers,
                            body={"capabilities": {"cpus": 2}, "vms": [VM], "running_jobs": []})
    assert status == 200, beat
    return host


def _start_vm(api: LambdaProcess, operator: dict[str, str], host: FakeHost) -> str:
    path = f"/api/agents/{host.agent_id}/vms/{VM['uuid']}/actions"
    status, queued = api.http("POST", path, resource="/api/agents/{agent_id}/vms/{vm}/actions", headers=operator,
                              body={"action": "start"})
    assert status == 202, queued
    return str(queued["job_id"])


def _claim(api: LambdaProcess, host: FakeHost) -> dict[str, Any]:
    status, polled = api.http("POST", "/agent/v1/poll", headers=host.headers, body={}, query={"wait": "0"})
    assert status == 200 and len(polled["jobs"]) == 1, polled
    return dict(polled["jobs"][0])


def _job(api: LambdaProcess, operator: dict[str, str], job_id: str) -> dict[str, Any]:
    status, job = api.http("GET", f"/api/jobs/{job_id}", resource="/api/jobs/{job_id}", headers=operator)
    assert status == 200, job
    return dict(job)


@pytest.fixture(scope="module")
def operator(api: LambdaProcess, stack: offline.OfflineStack) -> dict[str, str]:
    return _operator_login(api, stack)


def test_a_job_runs_end_to_end_and_the_sweeper_lapses_an_unacknowledged_claim(
        api: LambdaProcess, sweeper: LambdaProcess, moto: offline.MotoServer, role: dict[str, str],
        upgraded: dict[str, Any], operator: dict[str, str]) -> None:
    started = time.monotonic()
    assert api.http("GET", "/api/health")[0] == 200
    host = _enrol(api, operator)

    job_id = _start_vm(api, operator, host)
    claimed = _claim(api, host)
    upload = claimed["uploads"]["result"]
    # moto's IAM enforcement cannot check a presigned URL (it wants an Authorization header, a 500
    # otherwise: infra/offline.py), so the result goes to the URL's key with the role's own keys.
    assert upload["url"].startswith(f"{moto.url}/{upgraded['bucket']}/{upload['key']}?")
    moto.client("s3", role).put_object(Bucket=upgraded["bucket"], Key=upload["key"], Body=json.dumps({"ok": True}))
    status, done = api.http("POST", f"/agent/v1/jobs/{job_id}/complete", resource="/agent/v1/jobs/{job_id}/complete",
                            headers=host.headers, body={"claim_token": claimed["claim_token"], "exit_code": 0,
                                                        "outputs": ["result"]})
    assert (status, done) == (200, {"status": "succeeded"})
    assert _job(api, operator, job_id)["status"] == "succeeded"

    second = _start_vm(api, operator, host)
    _claim(api, host)
    time.sleep(CLAIM_ACK_SECONDS + 1.1)
    swept = sweeper.invoke(SWEEPER, scheduled_event(f"arn:aws:events:us-east-1:123456789012:rule/{STACK}"))
    assert swept["lapsed"] == 1, swept
    assert _job(api, operator, second)["status"] == "queued"
    assert not any(word in api.log() + sweeper.log() for word in DENIED), api.log()[-3000:] + sweeper.log()[-3000:]
    print(f"\nLambda-style scenario: {time.monotonic() - started:.1f} s")


def test_the_change_feed_is_written_and_signed_with_the_stack_s_role(
        api: LambdaProcess, moto: offline.MotoServer, role: dict[str, str], upgraded: dict[str, Any],
        operator: dict[str, str]) -> None:
    """A heartbeat's bump PUTs changes/<owner>, and GET /api/changes makes sure it exists and signs its GET."""
    _enrol(api, operator, "feed-host")  # enrolling bumps the owner's version
    status, answer = api.http("GET", "/api/changes", headers=operator)
    assert status == 200, (answer, api.log()[-3000:])
    key = answer["feed"]["url"].split("?", 1)[0].split(f"/{upgraded['bucket']}/", 1)[1]
    assert key.startswith("changes/usr_")
    # moto's IAM enforcement cannot check a presigned URL (infra/offline.py): the GET it stands for is made
    # with the keys that signed it, which is what AWS checks a presigned GET against.
    stored = moto.client("s3", role).get_object(Bucket=upgraded["bucket"], Key=key)
    assert json.loads(stored["Body"].read()) == {"version": answer["version"]}
    assert not any(word in api.log() for word in DENIED), api.log()[-3000:]


def test_the_fleet_list_and_vm_labels_work_with_the_stack_s_role(api: LambdaProcess,
                                                                  operator: dict[str, str]) -> None:
    """The packaged function serves the fleet list (an index query) and VM labels with the stack's role.
    moto's IAM enforcement does not tell an index from its table (a role without `index/*` passes here):
    tests/infra/test_stack_config.py holds the role to naming every table's indexes."""
    host = _enrol(api, operator, "fleet-host")
    status, labelled = api.http("PATCH", f"/api/agents/{host.agent_id}/vms/{VM['uuid']}",
                                resource="/api/agents/{agent_id}/vms/{vm}", headers=operator,
                                body={"labels": {"tier": "web"}})
    assert (status, labelled["labels"]) == (200, {"tier": "web"}), labelled
    status, fleet = api.http("GET", "/api/vms", headers=operator, query={"label": "tier=web"})
    assert status == 200, (fleet, api.log()[-3000:])
    assert [(vm["uuid"], vm["host_name"]) for vm in fleet["vms"]] == [(VM["uuid"], "fleet-host")]
    assert not any(word in api.log() for word in DENIED), api.log()[-3000:]


def _doorbell(api: LambdaProcess, host: FakeHost) -> dict[str, Any]:
    status, granted = api.http("POST", "/agent/v1/doorbell", headers=host.headers, body={})
    assert status == 200, (granted, api.log()[-3000:])
    creds = granted["credentials"]
    return {"aws_access_key_id": creds["access_key_id"], "aws_secret_access_key": creds["secret_access_key"],
            "aws_session_token": creds["session_token"], "queue_url": granted["queue_url"]}


def test_a_hosts_doorbell_credentials_reach_its_own_queue_and_nothing_else(
        api: LambdaProcess, moto: offline.MotoServer, upgraded: dict[str, Any], operator: dict[str, str]) -> None:
    """Handed out by the packaged function under IAM enforcement (the role chain works as on AWS), then used."""
    mine, theirs = _enrol(api, operator, "doorbell-a"), _enrol(api, operator, "doorbell-b")
    granted, other = _doorbell(api, mine), _doorbell(api, theirs)
    creds = {k: v for k, v in granted.items() if k.startswith("aws_")}
    job_id = _start_vm(api, operator, mine)
    sqs = moto.client("sqs", creds)
    rung = sqs.receive_message(QueueUrl=granted["queue_url"], WaitTimeSeconds=1, MaxNumberOfMessages=10)
    assert [m["Body"] for m in rung["Messages"]] == [job_id]
    sqs.delete_message(QueueUrl=granted["queue_url"], ReceiptHandle=rung["Messages"][0]["ReceiptHandle"])
    refused = {
        "receive from another host's queue": lambda: sqs.receive_message(QueueUrl=other["queue_url"]),
        "send to another host's queue": lambda: sqs.send_message(QueueUrl=other["queue_url"], MessageBody="x"),
        "purge another host's queue": lambda: sqs.purge_queue(QueueUrl=other["queue_url"]),
        "send to its own queue": lambda: sqs.send_message(QueueUrl=granted["queue_url"], MessageBody="x"),
        "read a table": lambda: moto.client("dynamodb", creds).get_item(
            TableName=upgraded["table"], Key={"user_id": {"S": "u_survivor"}}),
        "read the bucket": lambda: moto.client("s3", creds).get_object(
            Bucket=upgraded["bucket"], Key="results/survivor.json"),
        "read a key secret": lambda: moto.client("secretsmanager", creds).get_secret_value(
            SecretId=f"fleetvisor/{STAGE}/job-signing-key"),
    }
    for what, call in refused.items():
        with pytest.raises(ClientError) as denied:
            call()
        error = denied.value.response
        assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) in (
            (403, "AccessDenied"), (403, "AccessDeniedException"), (403, "403")), (what, error)
    assert "Messages" not in moto.client("sqs").receive_message(QueueUrl=other["queue_url"])  # nothing arrived


def test_the_role_is_denied_another_stages_bucket_and_queue(role: dict[str, str], moto: offline.MotoServer) -> None:
    """moto checks S3 and SQS resources (not DynamoDB's: see infra/offline.py), so prod's are tried here."""
    bucket = f"fleetvisor-prod-objects-{uuid.uuid4().hex[:6]}"
    moto.client("s3").create_bucket(Bucket=bucket)
    queue = moto.client("sqs").create_queue(QueueName=f"fleetvisor-prod-agent-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    with pytest.raises(ClientError) as s3_denied:
        moto.client("s3", role).put_object(Bucket=bucket, Key="results/x.json", Body=b"{}")
    with pytest.raises(ClientError) as sqs_denied:
        moto.client("sqs", role).send_message(QueueUrl=queue, MessageBody="ring")
    assert s3_denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "not authorized to perform: sqs:SendMessage" in str(sqs_denied.value)
    assert "Contents" not in moto.client("s3").list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("handler", [API, SWEEPER])
def test_peak_memory_leaves_thirty_percent_of_the_configured_size(
        handler: str, api: LambdaProcess, sweeper: LambdaProcess, translated: dict[str, Any]) -> None:
    """Each function after work of its own (and, when the whole module runs, after the scenario)."""
    process = api if handler == API else sweeper
    if handler == SWEEPER:
        process.invoke(SWEEPER, scheduled_event(f"arn:aws:events:us-east-1:123456789012:rule/{STACK}"))
    else:
        process.http("GET", "/api/health")
    peak_mb = process.probe()["maxrss_kib"] / 1024
    configured = int(function_resource(translated, handler)[1]["MemorySize"])
    print(f"\npeak RSS of {handler}: {peak_mb:.0f} MB; configured MemorySize {configured} MB")
    assert peak_mb <= configured * 0.7
