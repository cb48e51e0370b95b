"""A packaged stage (dist/STAGE/) deployed into moto's server: the moto workarounds, in one place.

What `make deploy` hands AWS is proven offline by doing the same steps against
moto's CloudFormation over real HTTP (tests/infra/test_aws_stack.py,
bench/lambda_package.py): upload deployment.zip, point every function's
CodeUri at it, SAM-translate with aws-sam-translator, create (then update) the
stack. moto's CloudFormation does not model everything the template uses, so
`for_moto` changes the translated template first, and only in these ways:

- AWS::SecretsManager::Secret is not a resource moto's CloudFormation knows:
  removed, and `create_secrets` makes the two secrets directly, same names; a Ref of one
  becomes its ARN.
- AWS::CloudFront::* (distribution, origin access control, function, response
  headers policy) are unknown to moto's CloudFormation: removed; a reference to
  the distribution's domain becomes PLACEHOLDER_DOMAIN, its id PLACEHOLDER_ID.
- AWS::ApiGateway::GatewayResponse fails in moto's CloudFormation (not
  modelled): removed. moto also ignores a RestApi's Body, so the API's routes
  are not in moto; the tests drive the handler with API Gateway events instead.
- WebBucketPolicy names the distribution (removed) and moto's CloudFormation
  cannot create an AWS::S3::BucketPolicy whose principal is a service: removed.
- The role's trust policy names lambda.amazonaws.com, which moto's STS cannot act as (and
  crashes checking): `MotoServer.assume` makes it trust the admin user before AssumeRole.
- moto's CloudFormation stores a role's inline policy as a dict, which its IAM enforcement
  cannot read (KeyError, a 500): `MotoServer.assume` puts the same documents back as JSON.
- moto's IAM enforcement checks DynamoDB and Secrets Manager calls against resource `*`, so
  an ARN-scoped statement never matches there: for moto only, those statements get Resource
  `*` (`actions_only`). Their actions are enforced, their resources are NOT; S3 and SQS
  resources are, except sqs:CreateQueue (a queue that does not exist yet has no ARN in moto:
  `CREATE_BLIND`, also Resource `*`). So "another stage is denied" is shown on S3 and SQS, not on a table.
- moto's IAM enforcement authorizes HeadObject as `s3:HeadObject`, an action AWS does not have
  (AWS checks s3:GetObject): for moto only, every statement granting s3:GetObject also grants
  s3:HeadObject on the same resources (`actions_only`).
- moto's IAM enforcement cannot check a presigned URL (it reads an Authorization header and
  answers 500): the tests put the result at the presigned URL's key with the role's keys.
- moto's Lambda API fails signature checks under IAM enforcement (SignatureDoesNotMatch), so a
  function's environment is read from the translated template resolved against the stack's
  parameters (infra/lambda_style.py), not from GetFunctionConfiguration.
- AWS::Lambda::Permission, AWS::Events::Rule and the API Gateway
  deployment/stage are kept when moto creates them; `UNSUPPORTED` lists
  exactly what is taken out.

- moto ignores the session policy an AssumeRole passes, and never matches a role's session
  against a trust policy naming the role: `MotoServer` runs moto through infra/moto_iam.py,
  which adds both as AWS has them (the agents' doorbell credentials rely on each).

moto's IAM enforcement (INITIAL_NO_AUTH_ACTION_COUNT) is on in `MotoServer`:
the first requests create an admin user and key, everything else is signed
with those keys or with credentials from STS AssumeRole of the stack's role.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from infra.lambda_style import function_environment, function_resource
from infra.local import LOOPBACK, REPO, VENV_BIN, free_port, wait_for_port
from infra.resources import load

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARTIFACTS_BUCKET = "fleetvisor-artifacts"
# CloudFront's documented example domain and id: what the removed distribution stands in for.
PLACEHOLDER_DOMAIN = "d111111abcdef8.cloudfront.net"
PLACEHOLDER_ID = "EDFDVBD6EXAMPLE"
UNSUPPORTED_PREFIXES = ("AWS::CloudFront::",)
UNSUPPORTED = {"AWS::SecretsManager::Secret", "AWS::ApiGateway::GatewayResponse", "AWS::S3::BucketPolicy",
               "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage"}
# Requests moto lets through before enforcing IAM: create_user, put_user_policy, create_access_key.
NO_AUTH_REQUESTS = 3
# moto checks these services' calls against resource `*` (it enforces their actions, not their
# resources); S3 (bucket/key) and SQS (queue ARN) are checked against the real resource.
RESOURCE_BLIND = ("dynamodb:", "secretsmanager:")
# Checked against `*` while the resource does not exist yet (moto's SQS knows no ARN before the queue).
CREATE_BLIND = ("sqs:CreateQueue",)
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass
class MotoServer:
    """moto's HTTP server with IAM enforced, and an admin user's keys for setting things up."""

    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    admin: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> MotoServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(NO_AUTH_REQUESTS)
        log = self.log_path.open("ab")
        # moto's server with AWS's session policies and role-session principals (infra/moto_iam.py).
        self.proc = subprocess.Popen([str(VENV_BIN / "python"), "-m", "infra.moto_iam", "-H", LOOPBACK,
                                      "-p", str(self.port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()
        wait_for_port(self.port, "moto_server", self.proc)
        iam = self.client("iam", {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"})
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        self.admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        keys: dict[str, Any] = dict(credentials or self.admin)
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **keys)  # type: ignore[call-overload]

    def assume(self, role_name: str) -> dict[str, str]:
        """Credentials of the role, as Lambda hands its functions (with the session token).

        The admin stands in for lambda.amazonaws.com, which moto's STS cannot act as: the role's
        trust policy is replaced by one that trusts the admin user (moto fails with a 500 checking
        a `Service` principal).
        """
        iam = self.client("iam")
        admin_arn = iam.get_user(UserName="admin")["User"]["Arn"]
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}]}
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        answer = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="lambda")["Credentials"]
        return {"aws_access_key_id": answer["AccessKeyId"], "aws_secret_access_key": answer["SecretAccessKey"],
                "aws_session_token": answer["SessionToken"]}


def readable_by_moto(iam: Any, role_name: str) -> None:
    """Put a CloudFormation-made role's trust and inline policies back as JSON (moto's CloudFormation
    keeps them as Python objects, which its IAM enforcement cannot read), with the moto-only changes
    of `actions_only`."""
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(_document(trust)))
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        iam.put_role_policy(RoleName=role_name, PolicyName=name,
                            PolicyDocument=json.dumps(actions_only(document, RESOURCE_BLIND)))


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # moto hands back the dict's Python repr
        return dict(ast.literal_eval(value))
    return dict(value)


def actions_only(document: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The policy as moto can enforce it (the module docstring says why each change): Resource `*` on
    statements whose actions all start with `prefixes`, s3:HeadObject beside s3:GetObject, and the
    create-blind actions on `*`. Idempotent: a stack upgrade applies it to its own output again."""
    out = json.loads(json.dumps(document))
    out["Statement"] = [st for st in out["Statement"] if st.get("Sid") != "MotoCreateBlind"]
    for statement in out["Statement"]:
        actions = _as_list(statement["Action"])
        if all(a.startswith(prefixes) for a in actions):
            statement["Resource"] = "*"
        if "s3:GetObject" in actions and "s3:HeadObject" not in actions:
            statement["Action"] = [*actions, "s3:HeadObject"]
    granted = {a for st in out["Statement"] if st["Effect"] == "Allow" for a in _as_list(st["Action"])}
    creates = sorted(granted & set(CREATE_BLIND))
    if creates:
        out["Statement"].append({"Sid": "MotoCreateBlind", "Effect": "Allow", "Action": creates, "Resource": "*"})
    return out


class _NoGlobals:
    """aws-sam-translator asks for managed policy ARNs; the template uses none."""

    def load(self) -> dict[str, str]:
        return {}


def translate(dist: Path, s3: Any) -> dict[str, Any]:
    """dist/STAGE/sam.yaml as CloudFormation: deployment.zip uploaded, CodeUri at it, SAM-translated."""
    from samtranslator.translator.transform import transform  # noqa: PLC0415 - slow import, only here

    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    s3.upload_file(str(dist / "deployment.zip"), ARTIFACTS_BUCKET, "deployment.zip")
    template = load(dist / "sam.yaml")
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS_BUCKET}/deployment.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return dict(transform(template, {}, _NoGlobals()))


def unsupported(resource: dict[str, Any]) -> bool:
    kind = str(resource["Type"])
    return kind in UNSUPPORTED or kind.startswith(UNSUPPORTED_PREFIXES)


def for_moto(template: dict[str, Any], made: dict[str, str]) -> dict[str, Any]:
    """The translated template without what moto's CloudFormation lacks, references replaced (see above).

    `made`: logical id → Ref value of a removed resource made outside the stack (the secrets' ARNs).
    """
    removed = {name for name, resource in template["Resources"].items() if unsupported(resource)}
    out = json.loads(json.dumps(template))
    out["Resources"] = {n: r for n, r in out["Resources"].items() if n not in removed}
    for resource in out["Resources"].values():
        resource["DependsOn"] = [d for d in _as_list(resource.get("DependsOn")) if d not in removed]
        if not resource["DependsOn"]:
            del resource["DependsOn"]
    out["Resources"] = _replace(out["Resources"], removed, made)
    for resource in out["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::RestApi":
            properties = resource["Properties"]
            properties.setdefault("Name", properties.get("Body", {}).get("info", {}).get("title", "api"))
    out["Outputs"] = _replace(out.get("Outputs", {}), removed, made)
    return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _placeholder(name: str, attribute: str | None) -> str:
    if attribute == "DomainName":
        return PLACEHOLDER_DOMAIN
    if name == "Distribution":
        return PLACEHOLDER_ID
    return f"removed-for-moto-{name}"


def _replace(value: Any, removed: set[str], made: dict[str, str]) -> Any:
    """Ref/GetAtt of a removed resource → its placeholder; in Sub, ${Name} / ${Name.Attr} likewise."""
    if isinstance(value, list):
        return [_replace(v, removed, made) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in removed:
        return made.get(value["Ref"]) or _placeholder(value["Ref"], None)
    if set(value) == {"Fn::GetAtt"}:
        name, attribute = _getatt(value["Fn::GetAtt"])
        if name in removed:
            return _placeholder(name, attribute)
    if set(value) == {"Fn::Sub"}:
        return {"Fn::Sub": _replace_sub(value["Fn::Sub"], removed, made)}
    return {k: _replace(v, removed, made) for k, v in value.items()}


def _getatt(target: Any) -> tuple[str, str]:
    if isinstance(target, str):
        name, _, attribute = target.partition(".")
        return name, attribute
    return str(target[0]), str(target[1])


def _replace_sub(sub: Any, removed: set[str], made: dict[str, str]) -> Any:
    text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
    for name in removed:
        text = text.replace("${" + name + ".DomainName}", PLACEHOLDER_DOMAIN)
        text = text.replace("${" + name + "}", made.get(name) or _placeholder(name, None))
    variables = _replace(variables, removed, made)
    return text if isinstance(sub, str) else [text, variables]


def secret_names(template: dict[str, Any], stage: str) -> dict[str, str]:
    """Logical id → the name the template gives each secret (`Fn::Sub` on ${Stage} only)."""
    names = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            name = resource["Properties"]["Name"]
            names[logical] = str(name["Fn::Sub"] if isinstance(name, dict) else name).replace("${Stage}", stage)
    return names


def create_secrets(client: Any, names: dict[str, str]) -> dict[str, str]:
    """The secrets made directly, same names; logical id → ARN (what a Ref of the secret gives)."""
    return {logical: client.create_secret(Name=name)["ARN"] for logical, name in names.items()}


def deploy(cfn: Any, stack_name: str, template: dict[str, Any], parameters: dict[str, str],
           timeout: float = 60) -> dict[str, str]:
    """Create the stack, or update it when it exists; wait until done; its physical ids by logical id."""
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    exists = any(s["StackName"] == stack_name for s in cfn.list_stacks()["StackSummaries"]
                 if s["StackStatus"] != "DELETE_COMPLETE")
    call = cfn.update_stack if exists else cfn.create_stack
    call(StackName=stack_name, TemplateBody=json.dumps(template), Parameters=params, Capabilities=["CAPABILITY_IAM"])
    _wait(cfn, stack_name, timeout)
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]}


def _wait(cfn: Any, stack_name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return
        if status.endswith(("FAILED", "ROLLBACK_COMPLETE")):
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                       if "FAILED" in e["ResourceStatus"]]
            raise RuntimeError(f"stack {stack_name} is {status}: {reasons}")
        time.sleep(0.2)
    raise TimeoutError(f"stack {stack_name} not done within {timeout:.0f} s")


@dataclass
class OfflineStack:
    """A packaged stage standing in moto: its translated template, secrets and resources' physical ids."""

    moto: MotoServer
    stack_name: str
    stage: str
    translated: dict[str, Any]
    secrets: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def deploy(self, parameters: dict[str, str]) -> dict[str, str]:
        """Create or upgrade the stack with `parameters` (as `sam deploy` would); its physical ids."""
        self.ids = deploy(self.moto.client("cloudformation"), self.stack_name,
                          for_moto(self.translated, self.secrets), {"Stage": self.stage, **parameters})
        iam = self.moto.client("iam")
        for logical, resource in self.translated["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                readable_by_moto(iam, self.ids[logical])
        return self.ids

    def parameters(self) -> tuple[dict[str, str], str]:
        """The stack's parameters as deployed, and its id."""
        described = self.moto.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"][0]
        return {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}, described["StackId"]

    def role_arns(self) -> dict[tuple[str, str], str]:
        """`Fn::GetAtt [role, Arn]` of every role in the stack (what the functions' environment names)."""
        iam = self.moto.client("iam")
        return {(logical, "Arn"): iam.get_role(RoleName=self.ids[logical])["Role"]["Arn"]
                for logical, resource in self.translated["Resources"].items() if resource["Type"] == "AWS::IAM::Role"}

    def admin_env(self) -> dict[str, str]:
        """What a control-plane tool run by the deployer gets (infra/bootstrap.py through `make deploy`):
        this stage, its bucket, and the admin user's keys for moto."""
        from infra import deploy as deploy_tool  # noqa: PLC0415 - deploy imports the local stack's helpers

        env = deploy_tool.control_plane_env(deploy_tool.load_stage(self.stage), self.ids["ObjectsBucket"])
        # Every service of this stage is in moto: no other endpoint (dynalite's, in the test run) may leak in.
        env = {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL") and k != "AWS_SESSION_TOKEN"}
        return {**env, "AWS_ENDPOINT_URL": self.moto.url, "AWS_ACCESS_KEY_ID": self.moto.admin["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": self.moto.admin["aws_secret_access_key"]}

    def lambda_env(self, handler: str, credentials: dict[str, str], **extra: str) -> dict[str, str]:
        """What Lambda gives the function: the template's environment as the stack resolves it, the
        role's credentials, and moto's URL as every AWS endpoint."""
        params, stack_id = self.parameters()
        _, properties = function_resource(self.translated, handler)
        env = function_environment(self.translated, properties, params, stack_id, self.stack_name,
                                   attributes=self.role_arns())
        env.update({"AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
                    "AWS_SESSION_TOKEN": credentials["aws_session_token"],
                    "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.moto.url,
                    "AWS_LAMBDA_FUNCTION_NAME": handler,
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties["MemorySize"]),
                    "LANG": "C.UTF-8", "TZ": ":UTC", **extra})
        return env


def stand_up(dist: Path, moto: MotoServer, stage: str, stack_name: str) -> OfflineStack:
    """dist/STAGE translated, its secrets made (with first keyrings, as `make deploy` writes them)
    and the stack created as a first deploy (no PublicUrl yet)."""
    from infra import keys  # noqa: PLC0415 - imports the control plane's keyring format

    translated = translate(dist, moto.client("s3"))
    client = moto.client("secretsmanager")
    made = create_secrets(client, secret_names(translated, stage))
    for keyring in ("job", "token"):
        keys.ensure(keys.Secret(client, keys.secret_name(keyring, stage)), keyring)
    stack = OfflineStack(moto, stack_name, stage, translated, made)
    stack.deploy({})
    return stack
