"""The unzipped deployment.zip run as Lambda runs it, against a stack in moto (infra/offline.py).

`LambdaProcess` is one warm Lambda: a clean interpreter (`python -I -S`, so
no site-packages: only the package directory on sys.path, and the package's
own pinned boto3/botocore load), the function's environment from the
translated template resolved against the stack (`function_environment`), the
stack role's assumed credentials, and AWS_ENDPOINT_URL at moto. It takes
handler invocations over a pipe (infra/lambda_runner.py) and keeps its
stderr (the function's log) in a file. Used by tests/infra/test_aws_stack.py
and bench/lambda_package.py.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from infra.resources import PSEUDO, conditions_of, resolve, with_defaults

RUNNER = Path(__file__).resolve().parent / "lambda_runner.py"


def unzip(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into


def function_resource(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    """(logical id, Properties) of the translated template's Lambda function with this handler."""
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Lambda::Function" and res["Properties"]["Handler"] == handler:
            return name, res["Properties"]
    raise LookupError(f"no function with handler {handler}")


def handlers(template: dict[str, Any]) -> dict[str, str]:
    """Logical id → Handler of every function in the translated template."""
    return {n: r["Properties"]["Handler"] for n, r in template["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function"}


def function_environment(template: dict[str, Any], properties: dict[str, Any], params: dict[str, str],
                         stack_id: str, stack_name: str, *,
                         attributes: dict[tuple[str, str], str] | None = None) -> dict[str, str]:
    """The function's Environment.Variables resolved as the stack has them; `attributes`: what each
    `Fn::GetAtt [logical id, attribute]` is in the stack."""
    given = {**with_defaults(template, params), "AWS::StackId": stack_id, "AWS::StackName": stack_name}
    variables = properties.get("Environment", {}).get("Variables", {})
    resolved = resolve(variables, given, conditions_of(template, given), attributes)
    return {k: str(v) for k, v in resolved.items()}


def api_event(method: str, path: str, *, resource: str | None = None, headers: dict[str, str] | None = None,
              body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event for Chalice's stage `api`; `resource` is the route's template."""
    resource = resource or path
    names = re.findall(r"\{(\w+)\}", resource)
    pattern = "^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(resource)) + "$"
    match = re.match(pattern, path)
    params = dict(zip(names, match.groups(), strict=True)) if match and names else None
    text = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    return {"httpMethod": method, "path": path, "resource": resource, "pathParameters": params,
            "queryStringParameters": query, "multiValueQueryStringParameters":
                {k: [v] for k, v in query.items()} if query else None,
            "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})},
            "multiValueHeaders": None, "stageVariables": None, "body": text, "isBase64Encoded": False,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "stage": "api", "path": f"/api{path}",
                               "requestId": "req", "identity": {"sourceIp": "198.51.100.7", "userAgent": "test"},
                               "accountId": PSEUDO["AWS::AccountId"], "apiId": "abc123"}}


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    return {"version": "0", "id": "sched", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": PSEUDO["AWS::AccountId"], "time": "2026-12-06T00:00:00Z", "region": PSEUDO["AWS::Region"],
            "resources": [rule_arn], "detail": {}}


class LambdaProcess:
    """One warm Lambda-style interpreter running the unzipped package."""

    def __init__(self, package: Path, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", str(RUNNER), str(package)], cwd=package, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Lambda-style process died; see {self.log_path}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def invoke(self, handler: str, event: dict[str, Any]) -> Any:
        return self.send({"invoke": handler, "event": event})["result"]

    def http(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(status, JSON body or text) of app.app for an API Gateway event."""
        answer = self.invoke("app.app", api_event(method, path, **kwargs))
        body = answer.get("body") or ""
        if answer.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        try:
            return int(answer["statusCode"]), json.loads(body) if body else None
        except json.JSONDecodeError:
            return int(answer["statusCode"]), body

    def probe(self) -> dict[str, Any]:
        return self.send({"probe": True})

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
