"""CI deploys stacks: the GitHub workflows pass actionlint and deploy each stage only from its own
ref, through its own GitHub environment, by OIDC; the role they assume (infra/ci-role.yaml) passes
cfn-lint, trusts exactly one repository and environment, and reaches only its own stage's names."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import resources

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
CI_ROLE = REPO / "infra" / "ci-role.yaml"
BIN = Path(sys.executable).parent  # actionlint and cfn-lint are installed into the venv by set-up
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Pseudo-parameters as AWS fills them in, with a 16-character stage: the longest the role allows.
AWS_VALUES = {"AWS::Partition": "aws", "AWS::Region": "ap-southeast-2", "AWS::AccountId": "123456789012",
              "GitHubOwner": "acme", "GitHubRepo": "fleetvisor"}
# Statements whose resources cannot carry the stage's name, each said so in the template.
ACCOUNT_WIDE_SIDS = {"SamTransform", "SamManagedStack", "SamArtifactBucket", "RestApis",
                     "Distribution", "DistributionParts"}


def _workflow(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as the boolean true
    return workflow


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return _workflow("deploy.yml")


@pytest.fixture(scope="module")
def ci_role() -> dict[str, Any]:
    return resources.load(CI_ROLE)


def _statements(ci_role: dict[str, Any]) -> list[dict[str, Any]]:
    return [statement for res in ci_role["Resources"].values() if res["Type"] == "AWS::IAM::ManagedPolicy"
            for statement in res["Properties"]["PolicyDocument"]["Statement"]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_patterns(ci_role: dict[str, Any], stage: str, service: str = "") -> list[str]:
    params = {**AWS_VALUES, "Stage": stage}
    return [resources.resolve(r, params)
            for s in _statements(ci_role) if not service or any(a.startswith(service) for a in _listed(s["Action"]))
            for r in _listed(s["Resource"])]


# --- the workflows ---------------------------------------------------------------------------------------------


def test_actionlint_passes_on_every_workflow() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"ci.yml", "deploy.yml"}
    checked = _run(BIN / "actionlint", "-no-color", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_actionlint_rejects_a_deploy_job_that_needs_a_missing_job(tmp_path: Path) -> None:
    broken = (WORKFLOWS / "deploy.yml").read_text().replace("needs: test\n", "needs: tests\n", 1)
    (tmp_path / "deploy.yml").write_text(broken.replace("./.github/workflows/ci.yml", "octo/ci/.github/x.yml@v1"))
    checked = _run(BIN / "actionlint", "-no-color", tmp_path / "deploy.yml")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert 'needs job "tests" which does not exist' in checked.stdout


def test_deploys_run_on_pushes_to_main_and_version_tags_only(deploy: dict[str, Any]) -> None:
    assert deploy["on"] == {"push": {"branches": ["main"], "tags": ["v*"]}}


def test_the_suite_gates_both_deploys_and_is_the_one_pull_requests_run(deploy: dict[str, Any]) -> None:
    assert deploy["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    ci = _workflow("ci.yml")
    assert set(ci["on"]) == {"pull_request", "workflow_call"}
    assert [s["run"] for s in ci["jobs"]["test"]["steps"] if "run" in s] == ["bash .ci/run"]
    for stage in ("dev", "prod"):
        assert deploy["jobs"][f"deploy-{stage}"]["needs"] == "test"


@pytest.mark.parametrize(("stage", "condition"), [("dev", "github.ref == 'refs/heads/main'"),
                                                  ("prod", "startsWith(github.ref, 'refs/tags/v')")])
def test_each_stage_deploys_from_its_own_ref_through_its_own_environment(deploy: dict[str, Any], stage: str,
                                                                         condition: str) -> None:
    job = deploy["jobs"][f"deploy-{stage}"]
    assert job["if"] == condition
    assert job["environment"] == stage
    assert job["concurrency"] == {"group": f"deploy-{stage}", "cancel-in-progress": False}
    assert [s["run"] for s in job["steps"] if s.get("name", "").startswith("make")] == [f"make deploy STAGE={stage}"]
    deploy_step = next(s for s in job["steps"] if s.get("name", "").startswith("make"))
    assert deploy_step["env"]["FLEETVISOR_DEPLOY_SECRETS_FILE"].startswith("${{ runner.temp }}/")


def test_only_the_deploy_jobs_may_ask_for_an_oidc_token(deploy: dict[str, Any]) -> None:
    ci = _workflow("ci.yml")
    assert deploy["permissions"] == ci["permissions"] == {"contents": "read"}
    asking = {name for name, job in {**deploy["jobs"], **ci["jobs"]}.items()
              if job.get("permissions", {}).get("id-token") == "write"}
    assert asking == {"deploy-dev", "deploy-prod"}


def test_deploy_jobs_assume_the_role_by_oidc_with_pinned_actions(deploy: dict[str, Any]) -> None:
    for stage in ("dev", "prod"):
        steps = deploy["jobs"][f"deploy-{stage}"]["steps"]
        [credentials] = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
        assert set(credentials["with"]) == {"role-to-assume", "role-session-name", "aws-region"}
        assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    uses = re.findall(r"uses:\s*(\S+)", "".join(p.read_text() for p in WORKFLOWS.glob("*.yml")))
    assert [u for u in uses if not u.startswith("./") and not PINNED.match(u)] == []


def test_no_stored_aws_key_and_no_uploaded_secret_anywhere_in_github_config() -> None:
    text = "".join(p.read_text() for p in (REPO / ".github").rglob("*") if p.is_file()).lower()
    for forbidden in ("aws_secret_access_key", "aws-secret-access-key", "aws_access_key_id", "aws-access-key-id",
                      "upload-artifact"):
        assert forbidden not in text


# --- the role they assume --------------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing_in_the_ci_role() -> None:
    linted = _run(BIN / "cfn-lint", CI_ROLE)
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


def test_the_role_trusts_one_repository_and_one_environment_by_oidc(ci_role: dict[str, Any]) -> None:
    [statement] = ci_role["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRoleWithWebIdentity")
    assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike: no pattern at all
    claims = resources.resolve(statement["Condition"]["StringEquals"], {**AWS_VALUES, "Stage": "prod"})
    assert claims == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                      "token.actions.githubusercontent.com:sub": "repo:acme/fleetvisor:environment:prod"}


@pytest.mark.parametrize("parameter", ["GitHubOwner", "GitHubRepo", "Stage"])
def test_the_trusted_names_cannot_be_wildcards(ci_role: dict[str, Any], parameter: str) -> None:
    pattern = ci_role["Parameters"][parameter]["AllowedPattern"]
    assert re.fullmatch(pattern, "prod" if parameter == "Stage" else "fleetvisor")
    for wildcard in ("*", "acme*", "?", "a/b"):
        assert not re.fullmatch(pattern, wildcard)


def test_every_action_is_named_and_no_resource_is_everything(ci_role: dict[str, Any]) -> None:
    statements = _statements(ci_role)
    assert len(statements) > 10 and all(s["Effect"] == "Allow" for s in statements)
    actions = [a for s in statements for a in _listed(s["Action"])]
    assert [a for a in actions if "*" in a] == []
    assert "*" not in [r for s in statements for r in _listed(s["Resource"])]


def test_every_resource_names_the_stage_except_where_aws_names_by_id(ci_role: dict[str, Any]) -> None:
    for statement in _statements(ci_role):
        if statement["Sid"] in ACCOUNT_WIDE_SIDS:
            continue
        for resource in _listed(statement["Resource"]):
            assert re.search(r"fleetvisor[-/]\$\{Stage\}[-/]", resource["Fn::Sub"]), statement["Sid"]


@pytest.mark.parametrize("prod_arn", [
    "arn:aws:cloudformation:ap-southeast-2:123456789012:stack/fleetvisor-prod/0f1e2d3c",
    "arn:aws:dynamodb:ap-southeast-2:123456789012:table/fleetvisor-prod-users",
    "arn:aws:s3:::fleetvisor-prod-objects-123456789012/results/x",
    "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:fleetvisor/prod/job-signing-key-AbCdEf",
    "arn:aws:sqs:ap-southeast-2:123456789012:fleetvisor-prod-agent-1",
    "arn:aws:lambda:ap-southeast-2:123456789012:function:fleetvisor-prod-APIHandler-1A2B",
    "arn:aws:iam::123456789012:role/fleetvisor-prod-DefaultRole-1A2B",
    "arn:aws:events:ap-southeast-2:123456789012:rule/fleetvisor-prod-SweepJobs-1A2B",
    "arn:aws:dynamodb:ap-southeast-2:123456789012:table/fleetvisor-dev2-users",
])
def test_the_dev_role_reaches_no_other_stage(ci_role: dict[str, Any], prod_arn: str) -> None:
    assert [p for p in _resource_patterns(ci_role, "dev") if fnmatch.fnmatchcase(prod_arn, p)] == []


def test_the_dev_role_reaches_its_own_stage(ci_role: dict[str, Any]) -> None:
    patterns = _resource_patterns(ci_role, "dev")
    for arn in ("arn:aws:dynamodb:ap-southeast-2:123456789012:table/fleetvisor-dev-users",
                "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:fleetvisor/dev/job-signing-key-AbCdEf",
                "arn:aws:cloudformation:ap-southeast-2:123456789012:stack/fleetvisor-dev/0f1e2d3c"):
        assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), arn


def test_the_role_cannot_change_or_pass_itself(ci_role: dict[str, Any]) -> None:
    name = resources.resolve(ci_role["Resources"]["DeployRole"]["Properties"]["RoleName"], {"Stage": "dev"})
    own_arn = f"arn:aws:iam::123456789012:role/{name}"
    assert [p for p in _resource_patterns(ci_role, "dev", "iam:") if fnmatch.fnmatchcase(own_arn, p)] == []


def test_each_managed_policy_fits_iams_size_limit(ci_role: dict[str, Any]) -> None:
    params = {**AWS_VALUES, "Stage": "s" * 16}
    for lid, res in ci_role["Resources"].items():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            document = json.dumps(resources.resolve(res["Properties"]["PolicyDocument"], params), separators=(",", ":"))
            assert len(document) < 6144, lid  # IAM's limit for a managed policy, white space not counted
