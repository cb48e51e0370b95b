"""`make deploy`'s steps after `sam deploy`, and `make destroy`'s, against moto
and dynalite: the web app's upload, the invalidation, keyrings and the first
admin created once and never reset, and a stage's agent queues removed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from chalicelib import keys

from infra import deploy, resources
from infra.local import LocalStack


def test_the_web_app_is_uploaded_with_its_types_and_caching(emulators: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "assets" / "index-abc.css").write_text("body{}")
    s3 = emulators.client("s3")
    bucket = f"web-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    assert deploy.upload_web(s3, bucket, tmp_path) == 3
    index = s3.head_object(Bucket=bucket, Key="index.html")
    script = s3.head_object(Bucket=bucket, Key="assets/index-abc.js")
    style = s3.head_object(Bucket=bucket, Key="assets/index-abc.css")
    assert (index["ContentType"], index["CacheControl"]) == ("text/html", "no-cache")
    assert script["ContentType"] in ("text/javascript", "application/javascript")
    assert script["CacheControl"] == style["CacheControl"] == deploy.IMMUTABLE
    assert style["ContentType"] == "text/css"


def test_a_keyring_is_written_once_and_never_replaced(emulators: LocalStack) -> None:
    client = emulators.client("secretsmanager")
    stage = f"kr{uuid.uuid4().hex[:6]}"
    client.create_secret(Name=f"fleetvisor/{stage}/job-signing-key")  # a new stack's secret: no value yet
    assert deploy.ensure_keyring(client, stage, "job") is True
    first = client.get_secret_value(SecretId=f"fleetvisor/{stage}/job-signing-key")["SecretString"]
    assert keys.parse(first).active_kid.startswith("job-")
    assert deploy.ensure_keyring(client, stage, "job") is False
    assert client.get_secret_value(SecretId=f"fleetvisor/{stage}/job-signing-key")["SecretString"] == first


@pytest.fixture
def empty_stage(emulators: LocalStack) -> tuple[deploy.Stage, dict[str, str]]:
    """A stage with its own, empty tables on the test dynalite, and the env a deploy tool gets."""
    name = f"d{uuid.uuid4().hex[:8]}"
    template = resources.load()
    tables = resources.of_type(template, "AWS::DynamoDB::Table", {"Stage": name})
    dynamodb = emulators.client("dynamodb")
    for props in tables.values():
        dynamodb.create_table(**resources.table_definition(props))
    stage = deploy.Stage(name=name, stack_name=f"fleetvisor-{name}", region="us-east-1", project=deploy.FUNCTIONS,
                         merge_template=resources.TEMPLATE, template_format="yaml", sam={})
    aws = {k: v for k, v in emulators.service_env().items() if k.startswith("AWS_")}
    return stage, {**deploy.control_plane_env(stage, "unused-bucket"), **aws}


def test_the_first_admin_is_created_once_and_a_later_deploy_leaves_it_alone(
        empty_stage: tuple[deploy.Stage, dict[str, str]], emulators: LocalStack) -> None:
    stage, env = empty_stage
    made = deploy.ensure_first_admin(env, "owner@example.com")
    assert made["email"] == "owner@example.com" and len(made["password"]) >= 20
    assert deploy.ensure_first_admin(env, "owner@example.com") == {}
    assert deploy.ensure_first_admin(env, "someone.else@example.com") == {}
    users = emulators.client("dynamodb").scan(TableName=f"fleetvisor-{stage.name}-users")["Items"]
    accounts = [u for u in users if "email" in u]
    assert [(u["email"]["S"], u["role"]["S"]) for u in accounts] == [("owner@example.com", "admin")]


def test_destroy_removes_this_stages_agent_queues_and_no_other(emulators: LocalStack) -> None:
    sqs = emulators.client("sqs")
    stage = f"q{uuid.uuid4().hex[:6]}"
    mine = [sqs.create_queue(QueueName=f"fleetvisor-{stage}-agent-ag_{uuid.uuid4().hex}")["QueueUrl"]
            for _ in range(3)]
    others = [sqs.create_queue(QueueName=f"fleetvisor-{stage}x-agent-ag_{uuid.uuid4().hex}")["QueueUrl"],
              sqs.create_queue(QueueName=f"fleetvisor-{stage}-agent-ag_{uuid.uuid4().hex}-agent-ag_1")["QueueUrl"]]
    assert deploy.delete_agent_queues(sqs, stage) == 3
    left = sqs.list_queues(QueueNamePrefix=f"fleetvisor-{stage}").get("QueueUrls", [])
    assert sorted(left) == sorted(others) and not set(mine) & set(left)


def test_a_stack_that_does_not_exist_has_no_outputs(emulators: LocalStack) -> None:
    assert deploy.stack_outputs(emulators.client("cloudformation"), deploy.load_stage("dev")) == {}


def test_destroy_says_what_it_keeps() -> None:
    message = deploy.kept_message(deploy.load_stage("prod"), {"ObjectsBucketName": "fleetvisor-prod-objects-1-x"})
    assert "fleetvisor-prod-objects-1-x" in message and "fleetvisor/prod/job-signing-key" in message
    assert "fleetvisor-prod-*" in message
