"""Package, deploy and destroy a stage on AWS: `make package|deploy|destroy STAGE=...`.

    python -m infra.deploy package --stage dev    # offline: dist/dev/ (template, zip, web app, wheel)
    python -m infra.deploy deploy --stage dev     # package, sam deploy, web app, keyrings, first admin
    python -m infra.deploy destroy --stage dev    # the stack and the agents' queues; data is kept

How it fits together (chalicefile says which project, template and stages):
- `package` runs `chalice package --merge-template` (no AWS credentials
  needed; Chalice downloads Lambda wheels from PyPI once and caches them in
  functions/.chalice/deployments/), then copies the built web app and the
  agent's wheel beside the template, so dist/STAGE/ is everything a deploy needs.
- `deploy` runs `sam deploy --config-env STAGE` (samconfig.toml) on that
  template. The SAM CLI pins its own boto3, so it lives in its own virtualenv
  (.venv-sam, made on first use) unless `sam` is on PATH. The functions hand
  hosts the distribution's URL, which the template cannot give them (the
  distribution names their API), so a stage's first deploy runs `sam deploy`
  a second time with PublicUrl filled in; later deploys pass it from the
  start. Then it uploads the web app, invalidates CloudFront, writes the
  keyrings if their secrets are empty, creates a first admin if the stage has
  none (its password printed once, or written to FLEETVISOR_DEPLOY_SECRETS_FILE
  when set, for CI), and prints the URL. Running it again upgrades in place.
- `destroy` empties the web bucket, deletes the stack, and deletes the agents'
  doorbell queues (made at run time, so not in the stack). Tables, the
  objects bucket and the key secrets are retained (DeletionPolicy Retain):
  it prints their names; a new deploy of the stage picks them up again.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local import FUNCTIONS, REPO

SAM_VENV = REPO / ".venv-sam"
SAM_REQUIREMENT = "aws-sam-cli>=1.120,<2"
WEB_DIR = REPO / "frontend" / "dist"
WHEEL_DIR = FUNCTIONS / "chalicelib" / "distribution" / "wheel"
# Hashed file names under assets/ never change content; index.html must be fetched fresh.
IMMUTABLE = "public, max-age=31536000, immutable"
FRESH = "no-cache"


@dataclass(frozen=True)
class Stage:
    """One stage as chalicefile and samconfig.toml declare it."""

    name: str
    stack_name: str
    region: str
    project: Path
    merge_template: Path
    template_format: str
    sam: dict[str, Any]

    @property
    def dist(self) -> Path:
        return REPO / "dist" / self.name

    @property
    def template(self) -> Path:
        return self.dist / f"sam.{self.template_format}"


def load_stage(name: str, root: Path = REPO) -> Stage:
    chalicefile = tomllib.loads((root / "chalicefile").read_text())
    samconfig = tomllib.loads((root / "samconfig.toml").read_text())
    if name not in chalicefile["stages"]:
        raise SystemExit(f"unknown stage {name!r}: chalicefile declares {', '.join(chalicefile['stages'])}")
    sam = samconfig[name]["deploy"]["parameters"]
    return Stage(name=name, stack_name=chalicefile["stages"][name]["stack_name"], region=sam["region"],
                 project=root / chalicefile["project"], merge_template=root / chalicefile["merge_template"],
                 template_format=chalicefile.get("template_format", "yaml"), sam=sam)


# -- package (offline) ---------------------------------------------------------
def package(stage: Stage, out: Path | None = None) -> Path:
    """dist/STAGE/ (or `out`): the merged SAM template, deployment.zip, web/ and agent/.
    No AWS credentials used."""
    out = out or stage.dist
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "AWS_DEFAULT_REGION": stage.region, "AWS_EC2_METADATA_DISABLED": "true"}
    _run([str(Path(sys.executable).parent / "chalice"), "package", "--stage", stage.name,
          "--merge-template", str(stage.merge_template), "--template-format", stage.template_format,
          str(out)], cwd=stage.project, env=env)
    if not (WEB_DIR / "index.html").exists():
        raise SystemExit("the web app is not built: run `make setup` first")
    shutil.copytree(WEB_DIR, out / "web", ignore=shutil.ignore_patterns(".fv-stamp"))
    (out / "agent").mkdir()
    for wheel in WHEEL_DIR.glob("fleetvisor_agent-*.whl"):
        shutil.copy2(wheel, out / "agent" / wheel.name)
    print(f"packaged {stage.name} into {out}/")
    return out


# -- deploy --------------------------------------------------------------------
def deploy(stage: Stage) -> None:
    import boto3  # noqa: PLC0415 - package needs no AWS SDK session

    session = boto3.Session(region_name=stage.region)
    package(stage)
    outputs = stack_outputs(session.client("cloudformation"), stage)
    public_url = outputs.get("PublicUrlInUse", "")
    sam_deploy(stage, public_url)
    outputs = stack_outputs(session.client("cloudformation"), stage)
    if outputs.get("PublicUrlInUse") != outputs["Url"]:
        sam_deploy(stage, outputs["Url"])  # a first deploy: now the distribution's domain is known
        outputs = stack_outputs(session.client("cloudformation"), stage)
    upload_web(session.client("s3"), outputs["WebBucketName"], stage.dist / "web")
    invalidate(session.client("cloudfront"), outputs["DistributionId"])
    bootstrap_env = control_plane_env(stage, outputs["ObjectsBucketName"])
    for keyring in ("job", "token", "seal"):
        ensure_keyring(session.client("secretsmanager"), stage.name, keyring)
    admin = ensure_first_admin(bootstrap_env, os.environ.get("FLEETVISOR_ADMIN_EMAIL", "admin@fleetvisor.local"))
    report(stage, outputs, admin)


def sam_binary() -> str:
    found = shutil.which("sam")
    if found:
        return found
    sam = SAM_VENV / "bin" / "sam"
    if not sam.exists():
        print(f"installing the SAM CLI into {SAM_VENV.relative_to(REPO)} (it pins its own boto3)")
        _run([sys.executable, "-m", "venv", str(SAM_VENV)])
        _run([str(SAM_VENV / "bin" / "pip"), "install", "-q", SAM_REQUIREMENT])
    return str(sam)


def sam_deploy(stage: Stage, public_url: str) -> None:
    overrides = shlex.split(stage.sam.get("parameter_overrides", ""))
    if public_url:  # the SAM CLI cannot pass an empty value; the template's default is empty
        overrides.append(f"PublicUrl={public_url}")
    argv = [sam_binary(), "deploy", "--config-file", str(REPO / "samconfig.toml"), "--config-env", stage.name,
            "--template-file", str(stage.template), "--parameter-overrides", *overrides]
    if os.environ.get("CI"):
        argv.append("--no-confirm-changeset")  # the GitHub environment's approval is the confirmation
    _run(argv, cwd=stage.dist)


def stack_outputs(client: Any, stage: Stage) -> dict[str, str]:
    """The stack's outputs by key (`client`: CloudFormation); empty when the stack does not exist yet."""
    try:
        stack = client.describe_stacks(StackName=stage.stack_name)["Stacks"][0]
    except client.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return {}
        raise
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def upload_web(s3: Any, bucket: str, web: Path) -> int:
    """Put every file of the built web app; assets/ are content-hashed, so cached for good."""
    count = 0
    for path in sorted(p for p in web.rglob("*") if p.is_file()):
        key = path.relative_to(web).as_posix()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=kind,
                      CacheControl=IMMUTABLE if key.startswith("assets/") else FRESH)
        count += 1
    return count


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    """Drop the cached index.html (and any stale deep link answer); assets are content-hashed."""
    answer = cloudfront.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"deploy-{time.time_ns()}"})
    return str(answer["Invalidation"]["Id"])


def ensure_keyring(client: Any, stage: str, keyring: str) -> bool:
    """Write a first keyring into the stage's secret when it holds none; True when it wrote one."""
    from infra import keys  # noqa: PLC0415 - imports the control plane's keyring format

    return keys.ensure(keys.Secret(client, keys.secret_name(keyring, stage)), keyring)


def control_plane_env(stage: Stage, bucket: str) -> dict[str, str]:
    """The environment a control-plane tool needs to act on a deployed stage (the caller's credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETVISOR_")}
    env.update({"FLEETVISOR_STAGE": stage.name, "FLEETVISOR_BUCKET": bucket, "AWS_DEFAULT_REGION": stage.region,
                "PYTHONPATH": os.pathsep.join([str(FUNCTIONS), str(REPO)])})
    return env


def ensure_first_admin(env: dict[str, str], email: str) -> dict[str, Any]:
    """Create an admin with a new password when the stage has no admin; {} when it has one."""
    password = secrets.token_urlsafe(18)
    out = subprocess.run([sys.executable, "-m", "infra.bootstrap", "--email", email, "--unless-admin-exists"],
                         env={**env, "FLEETVISOR_BOOTSTRAP_PASSWORD": password}, cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise SystemExit(f"creating the first admin failed: {out.stderr.strip()[-2000:]}")
    made = json.loads(out.stdout)
    return {"email": email, "password": password} if made.get("created") else {}


def report(stage: Stage, outputs: dict[str, str], admin: dict[str, Any]) -> None:
    print(f"\nFleetvisor {stage.name} is at {outputs['Url']}")
    if not admin:
        return
    secrets_file = os.environ.get("FLEETVISOR_DEPLOY_SECRETS_FILE")
    if secrets_file:
        path = Path(secrets_file)
        path.touch(mode=0o600)
        path.write_text(json.dumps(admin) + "\n")
        print(f"first admin {admin['email']}: password written to {path} (shown nowhere else)")
    else:
        print(f"first admin: {admin['email']}  password: {admin['password']}  (shown once; change it after login)")


# -- destroy -------------------------------------------------------------------
def destroy(stage: Stage) -> None:
    import boto3  # noqa: PLC0415

    session = boto3.Session(region_name=stage.region)
    outputs = stack_outputs(session.client("cloudformation"), stage)
    if not outputs:
        print(f"no stack {stage.stack_name} in {stage.region}")
    else:
        empty_bucket(session.client("s3"), outputs["WebBucketName"])
        client = session.client("cloudformation")
        client.delete_stack(StackName=stage.stack_name)
        client.get_waiter("stack_delete_complete").wait(StackName=stage.stack_name)
        print(f"deleted stack {stage.stack_name}")
    deleted = delete_agent_queues(session.client("sqs"), stage.name)
    print(f"deleted {deleted} agent queue(s)")
    print(kept_message(stage, outputs))


def empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


def delete_agent_queues(sqs: Any, stage: str) -> int:
    """Every host queue of the stage, as the functions name them (and no longer stage's sharing the prefix)."""
    sys.path.insert(0, str(FUNCTIONS))
    from chalicelib.jobs import doorbell  # noqa: PLC0415 - the control plane owns the queue names

    urls = doorbell.stage_queues(sqs=sqs, prefix=f"fleetvisor-{stage}-agent-")
    for url in urls:
        sqs.delete_queue(QueueUrl=url)
    return len(urls)


def kept_message(stage: Stage, outputs: dict[str, str]) -> str:
    bucket = outputs.get("ObjectsBucketName", f"fleetvisor-{stage.name}-objects-ACCOUNT-{stage.region}")
    return (f"kept (retained on delete; remove by hand to lose them for good): the tables fleetvisor-{stage.name}-*,"
            f" the bucket {bucket}, and the secrets fleetvisor/{stage.name}/job-signing-key,"
            f" fleetvisor/{stage.name}/access-token-key and fleetvisor/{stage.name}/sealing-key."
            f" Deploying {stage.name} again reuses them.")


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, cwd=cwd, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} failed ({result.returncode})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("package", "deploy", "destroy"))
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    stage = load_stage(args.stage)
    if args.command == "package":
        package(stage)
    else:
        (deploy if args.command == "deploy" else destroy)(stage)


if __name__ == "__main__":
    main()
