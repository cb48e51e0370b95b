"""What `make package` produces for a stage is coherent: chalicefile, samconfig.toml,
functions/.chalice/config.json and the template agree about every stage; the
functions' role names exact actions on exactly this stage's resources; data is
retained and encrypted; CloudFront is the one origin with the API uncached."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from chalicelib import store

from infra import browser_headers, deploy, resources

REPO = Path(__file__).resolve().parents[2]
CHALICEFILE = tomllib.loads((REPO / "chalicefile").read_text())
SAMCONFIG = tomllib.loads((REPO / "samconfig.toml").read_text())
CHALICE_CONFIG = json.loads((REPO / "functions" / ".chalice" / "config.json").read_text())
STAGES = sorted(CHALICEFILE["stages"])
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


@pytest.fixture(scope="module")
def packaged(dist: Path) -> dict[str, Any]:
    """The dev stage's template as `make package` writes it."""
    return resources.load(dist / "sam.yaml")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _policy(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["DefaultRole"]["Properties"]
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- the four files agree --------------------------------------------------------
def test_every_stage_is_declared_alike_in_chalicefile_samconfig_and_chalice_config() -> None:
    assert STAGES == ["dev", "prod"]
    assert sorted(SAMCONFIG) == sorted([*STAGES, "version"])
    assert set(STAGES) <= set(CHALICE_CONFIG["stages"])


@pytest.mark.parametrize("stage", STAGES)
def test_samconfig_deploys_the_stack_chalicefile_names_with_its_stage_parameter(stage: str) -> None:
    sam = SAMCONFIG[stage]["deploy"]["parameters"]
    assert sam["stack_name"] == CHALICEFILE["stages"][stage]["stack_name"]
    overrides = dict(item.split("=", 1) for item in sam["parameter_overrides"].split())
    assert overrides["Stage"] == stage
    assert "PublicUrl" not in overrides  # make deploy owns it (the distribution's domain)
    pattern = resources.load()["Parameters"]["Stage"]["AllowedPattern"]
    assert re.fullmatch(pattern, stage)


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_name_reaches_the_functions_only_through_the_template(stage: str) -> None:
    """FLEETVISOR_STAGE comes from the Stage parameter (Globals), so config.json cannot disagree with it."""
    config = CHALICE_CONFIG["stages"][stage]
    assert "FLEETVISOR_STAGE" not in config.get("environment_variables", {})
    assert config["api_gateway_endpoint_type"] == "REGIONAL"
    assert config["api_gateway_stage"] == "api"


def test_prod_asks_before_it_changes_and_dev_does_not() -> None:
    assert SAMCONFIG["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert SAMCONFIG["dev"]["deploy"]["parameters"]["confirm_changeset"] is False


def test_the_deploy_tool_reads_a_stage_from_chalicefile_and_samconfig() -> None:
    stage = deploy.load_stage("prod")
    assert (stage.stack_name, stage.region) == ("fleetvisor-prod", "us-east-1")
    assert stage.project == REPO / "functions" and stage.merge_template == REPO / "infra" / "template.yaml"
    with pytest.raises(SystemExit, match="unknown stage 'qa'"):
        deploy.load_stage("qa")


# -- the packaged template ----------------------------------------------------------
def test_functions_have_measured_memory_and_the_sweeper_is_scheduled(packaged: dict[str, Any]) -> None:
    functions = _resources(packaged, "AWS::Serverless::Function")
    assert functions["APIHandler"]["Properties"]["MemorySize"] == 512
    sweeper = functions["SweepJobs"]["Properties"]
    assert sweeper["MemorySize"] == 256
    assert sweeper["Events"]["SweepJobsEvent"]["Properties"]["Schedule"] == "rate(1 minute)"


def test_functions_get_the_bucket_public_url_and_origin_secret(packaged: dict[str, Any]) -> None:
    env = packaged["Globals"]["Function"]["Environment"]["Variables"]
    bucket = packaged["Resources"]["ObjectsBucket"]["Properties"]["BucketName"]
    assert env["FLEETVISOR_BUCKET"] == bucket  # by name: the same expression as the bucket's own
    assert env["FLEETVISOR_STAGE"] == {"Ref": "Stage"}
    assert "PublicUrl" in json.dumps(env["FLEETVISOR_PUBLIC_URL"])
    origins = packaged["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
    api = next(o for o in origins if o["Id"] == "api")
    assert api["OriginCustomHeaders"] == [{"HeaderName": "X-Fleetvisor-Origin-Verify",
                                           "HeaderValue": env["FLEETVISOR_ORIGIN_VERIFY"]}]


def test_the_role_names_no_wildcard_action_and_no_bare_wildcard_resource(packaged: dict[str, Any]) -> None:
    for statement in _policy(packaged):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement["Sid"]
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", statement["Sid"]
            assert "${Stage}" in json.dumps(resource) or "Arn" in json.dumps(resource) \
                or "Ref" in json.dumps(resource) or "${AWS::StackName}" in json.dumps(resource), statement["Sid"]


def test_the_role_reaches_exactly_the_stage_tables_and_their_indexes(packaged: dict[str, Any]) -> None:
    tables = next(s for s in _policy(packaged) if s["Sid"] == "Tables")
    named = {json.dumps(r) for r in tables["Resource"]}
    declared = _resources(packaged, "AWS::DynamoDB::Table")
    wanted = {json.dumps({"Fn::GetAtt": [lid, "Arn"]}) for lid in declared}
    wanted |= {json.dumps({"Fn::Sub": f"${{{lid}.Arn}}/index/*"}) for lid, r in declared.items()
               if r["Properties"].get("GlobalSecondaryIndexes")}
    assert named == wanted
    assert set(declared) == set(store.TABLES)
    assert "dynamodb:Scan" not in tables["Action"]  # only the users table may be scanned (account list)


def test_the_role_reaches_objects_queues_and_secrets_of_this_stage_only(packaged: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in _policy(packaged)}
    bucket = packaged["Resources"]["ObjectsBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    objects = [r["Fn::Sub"] for r in by_sid["Objects"]["Resource"]]
    assert objects == [f"arn:${{AWS::Partition}}:s3:::{bucket}/results/*",
                       f"arn:${{AWS::Partition}}:s3:::{bucket}/consoles/*",
                       f"arn:${{AWS::Partition}}:s3:::{bucket}/changes/*",
                       f"arn:${{AWS::Partition}}:s3:::{bucket}/metrics/*"]
    assert by_sid["Objects"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    listed = by_sid["ObjectsMissingIs404"]["Condition"]["StringLike"]["s3:prefix"]
    assert listed == ["results/*", "consoles/*", "metrics/*"]  # a VM's series lists its host's batches
    assert by_sid["AgentDoorbells"]["Resource"]["Fn::Sub"].endswith(":fleetvisor-${Stage}-agent-*")
    assert by_sid["Keyrings"]["Resource"] == [{"Ref": "JobSigningKeySecret"}, {"Ref": "AccessTokenKeySecret"},
                                              {"Ref": "SealingKeySecret"}]
    assert by_sid["Keyrings"]["Action"] == "secretsmanager:GetSecretValue"


def test_data_is_retained_encrypted_and_recoverable(packaged: dict[str, Any]) -> None:
    kept = {**_resources(packaged, "AWS::DynamoDB::Table"), **_resources(packaged, "AWS::SecretsManager::Secret"),
            "ObjectsBucket": packaged["Resources"]["ObjectsBucket"]}
    for lid, resource in kept.items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), lid
    for lid, table in _resources(packaged, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, lid
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, lid


def test_buckets_are_private_unique_per_account_and_expire_what_the_readme_promises(
        packaged: dict[str, Any]) -> None:
    for lid, bucket in _resources(packaged, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, lid
        assert "${AWS::AccountId}" in props["BucketName"]["Fn::Sub"] and "${Stage}" in props["BucketName"]["Fn::Sub"]
    rules = {r["Prefix"]: r["ExpirationInDays"]
             for r in packaged["Resources"]["ObjectsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
             if "Prefix" in r}
    assert rules == {"results/": 30, "consoles/": 90, "metrics/": 30}


def test_api_gateway_errors_answer_in_our_json_shape(packaged: dict[str, Any]) -> None:
    responses = {r["Properties"]["ResponseType"]: r["Properties"]
                 for r in _resources(packaged, "AWS::ApiGateway::GatewayResponse").values()}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    for kind, props in responses.items():
        body = props["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"x"')
        assert set(json.loads(body)["error"]) == {"code", "message"}, kind
        assert props["ResponseParameters"]["gatewayresponse.header.Cache-Control"] == "'no-store'"
    assert json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]
                      )["error"]["code"] == "not_found"


# -- CloudFront, the one origin --------------------------------------------------------
def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"]["Distribution"]["Properties"]["DistributionConfig"])


def test_api_and_agent_paths_go_uncached_to_a_regional_api(packaged: dict[str, Any]) -> None:
    config = _distribution(packaged)
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {"/api/*", "/agent/*"}
    for behaviour in behaviours.values():
        assert behaviour["TargetOriginId"] == "api"
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert {"GET", "POST", "PATCH", "DELETE", "PUT"} <= set(behaviour["AllowedMethods"])
        assert "FunctionAssociations" not in behaviour
    assert packaged["Resources"]["RestAPI"]["Properties"]["EndpointConfiguration"] == "REGIONAL"


def test_the_web_app_comes_from_a_private_bucket_with_deep_links_by_function_not_error_pages(
        packaged: dict[str, Any]) -> None:
    config = _distribution(packaged)
    web = next(o for o in config["Origins"] if o["Id"] == "web")
    assert web["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccess", "Id"]}
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "web"
    assert default["FunctionAssociations"][0]["EventType"] == "viewer-request"
    assert all("ResponsePagePath" not in e for e in config["CustomErrorResponses"])
    policy = packaged["Resources"]["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert "AWS:SourceArn" in policy["Condition"]["StringEquals"]


def test_every_answer_carries_the_security_headers(packaged: dict[str, Any]) -> None:
    config = _distribution(packaged)
    policy = {"Ref": "SecurityHeaders"}
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == policy
    assert all(b["ResponseHeadersPolicyId"] == policy for b in config["CacheBehaviors"])
    headers = packaged["Resources"]["SecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]
    # The same headers as the local server sends (infra/browser_headers.py), with HSTS since CloudFront is HTTPS.
    local = browser_headers.security_headers(browser_headers.aws_s3_origin("eu-west-1"), https=True)
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert csp.replace("${AWS::Region}", "eu-west-1") == local["Content-Security-Policy"]
    assert headers["FrameOptions"]["FrameOption"] == local["X-Frame-Options"]
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == local["Referrer-Policy"]
    hsts = headers["StrictTransportSecurity"]
    assert f"max-age={hsts['AccessControlMaxAgeSec']}; includeSubDomains" == local["Strict-Transport-Security"]
    assert hsts["IncludeSubdomains"] is True
    assert all(h["Override"] is True for h in headers.values())
    assert headers["ContentTypeOptions"]["Override"] is True


@pytest.mark.parametrize(("uri", "served"), [
    ("/", "/index.html"), ("/hosts/ag_1", "/index.html"), ("/login", "/index.html"),
    ("/assets/index-D5KvMm8t.js", "/assets/index-D5KvMm8t.js"), ("/index.html", "/index.html"),
])
def test_the_spa_fallback_function_serves_index_for_deep_links_only(uri: str, served: str) -> None:
    code = resources.load()["Resources"]["SpaFallbackFunction"]["Properties"]["FunctionCode"]
    script = code + f"\nconsole.log(handler({{request: {{uri: {json.dumps(uri)}, headers: {{}}}}}}).uri);"
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == served


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_presigned_urls_name_the_s3_origin_the_csp_allows(packaged: dict[str, Any], region: str) -> None:
    """On AWS (no endpoint override) the browser fetches console chunks and the change feed from S3 directly;
    both are signed by the one presigner (chalicelib/aws.py), so one key stands for both."""
    csp = packaged["Resources"]["SecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    allowed = re.search(r"connect-src ([^;]+)", csp)[1].replace("${AWS::Region}", region).split()  # type: ignore[index]
    script = ("from chalicelib import aws; print(aws.s3_presigner().generate_presigned_url("
              "'get_object', Params={'Bucket': 'fleetvisor-dev-objects-1-x', 'Key': 'consoles/c/1'}, ExpiresIn=60))")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "functions"), "AWS_DEFAULT_REGION": region,
           "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example", "FLEETVISOR_STAGE": "dev"}
    url = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    origin = "/".join(url.split("/")[:3])
    assert origin in allowed, (origin, allowed)
