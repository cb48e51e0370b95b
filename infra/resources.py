"""Read infra/template.yaml and create what it declares on dynalite and moto.

The local stack and the tests create tables, the bucket and the secrets from
the very template AWS deploys, never from a second hand-written list.
cfn-lint's decoder understands `!Ref` and `!Sub`; this module resolves the
few forms the template uses, and logs what the emulators do not support.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

TEMPLATE = Path(__file__).with_name("template.yaml")
log = logging.getLogger("fleetvisor.infra")

# Table properties dynalite does not implement; AWS applies them, locally they are skipped.
LOCAL_SKIPPED = ("TimeToLiveSpecification", "PointInTimeRecoverySpecification", "SSESpecification")


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    template, matches = decode_str(path.read_text())
    if matches:
        raise ValueError(f"{path} does not parse: {matches}")
    return _plain(template)


@functools.lru_cache(maxsize=1)
def _default() -> dict[str, Any]:
    return load()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# Pseudo parameters as moto's server reports them; AWS fills in its own.
PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": "us-east-1", "AWS::Partition": "aws",
          "AWS::URLSuffix": "amazonaws.com"}


def resolve(value: Any, params: dict[str, str], conditions: dict[str, bool] | None = None,
            attributes: dict[tuple[str, str], str] | None = None) -> Any:
    """Resolve `Ref` to parameters, `Fn::Sub` with `${Param}`, `Fn::If` on a condition, `Fn::Select` of
    an `Fn::Split`, and `Fn::GetAtt` from `attributes` (what a deployed stack's resources are) inside
    any value. Only the branch an `Fn::If` takes is resolved, so a local value never needs what only
    AWS has (a distribution's domain)."""
    return _Scope({**PSEUDO, **params}, conditions or {}, attributes or {}).resolve(value)


@dataclass(frozen=True)
class _Scope:
    known: dict[str, str]
    conditions: dict[str, bool]
    attributes: dict[tuple[str, str], str]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and next(iter(value)) in _INTRINSICS:
            (name, args), = value.items()
            return _INTRINSICS[name](self, args)
        return {k: self.resolve(v) for k, v in value.items()}


def _sub(scope: _Scope, text: str) -> str:
    return re.sub(r"\$\{([A-Za-z0-9:]+)\}", lambda m: scope.known[m.group(1)], text)


def _if(scope: _Scope, args: list[Any]) -> Any:
    name, yes, no = args
    return scope.resolve(yes if scope.conditions[name] else no)


def _split(scope: _Scope, args: list[Any]) -> list[str]:
    separator, source = args
    return str(scope.resolve(source)).split(separator)


_INTRINSICS: dict[str, Callable[[_Scope, Any], Any]] = {
    "Ref": lambda scope, name: scope.known[name],
    "Fn::Sub": _sub,
    "Fn::If": _if,
    "Fn::Select": lambda scope, args: scope.resolve(args[1])[int(args[0])],
    "Fn::Split": _split,
    "Fn::GetAtt": lambda scope, args: scope.attributes[tuple(args)],
}


def with_defaults(template: dict[str, Any], params: dict[str, str]) -> dict[str, str]:
    """`params` over the template's parameter defaults."""
    return {**{k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}, **params}


def conditions_of(template: dict[str, Any], params: dict[str, str]) -> dict[str, bool]:
    """The template's Conditions, for the forms it uses: Fn::Equals, Fn::Not, Fn::And, Fn::Or."""
    def truth(expr: Any) -> bool:
        (fn, args), = expr.items()
        if fn == "Fn::Equals":
            return bool(resolve(args[0], params) == resolve(args[1], params))
        if fn == "Fn::Not":
            return not truth(args[0])
        return (all if fn == "Fn::And" else any)(truth(a) for a in args)
    return {name: truth(expr) for name, expr in template.get("Conditions", {}).items()}


def of_type(template: dict[str, Any], kind: str, params: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Logical id → resolved Properties of every resource of `kind`."""
    params = with_defaults(template, params)
    conditions = conditions_of(template, params)
    return {lid: resolve(res.get("Properties", {}), params, conditions)
            for lid, res in template["Resources"].items() if res["Type"] == kind}


def objects_bucket(params: dict[str, str], template: dict[str, Any] | None = None) -> str:
    """The objects bucket's name (the functions' FLEETVISOR_BUCKET) as the template makes it."""
    return str(of_type(template or _default(), "AWS::S3::Bucket", params)["ObjectsBucket"]["BucketName"])


def table_definition(props: dict[str, Any]) -> dict[str, Any]:
    """CreateTable arguments for one AWS::DynamoDB::Table."""
    for skipped in LOCAL_SKIPPED:
        if skipped in props:
            log.info("local stack: %s of %s is not supported by dynalite; skipped", skipped, props["TableName"])
    wanted = ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
    return {k: props[k] for k in wanted if k in props}


def create_all(session: Any, params: dict[str, str], new_secret: Callable[[str], str],
               saved_secrets: dict[str, str], template: dict[str, Any] | None = None) -> dict[str, str]:
    """Create tables, buckets and secrets; returns every secret's value by name.

    `saved_secrets` (name → value) are put back as they were, so keys survive
    a restart of moto, which keeps nothing; missing ones come from `new_secret(name)`.
    """
    template = template or load()
    _create_tables(session.client("dynamodb"), template, params)
    _create_buckets(session.client("s3"), template, params)
    return _put_secrets(session.client("secretsmanager"), template, params, new_secret, saved_secrets)


def _create_tables(dynamodb: Any, template: dict[str, Any], params: dict[str, str]) -> None:
    existing = set(dynamodb.list_tables()["TableNames"])
    for props in of_type(template, "AWS::DynamoDB::Table", params).values():
        if props["TableName"] not in existing:
            dynamodb.create_table(**table_definition(props))
        else:
            _add_missing_indexes(dynamodb, props)
        dynamodb.get_waiter("table_exists").wait(TableName=props["TableName"],
                                                 WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})


def _add_missing_indexes(dynamodb: Any, props: dict[str, Any]) -> None:
    """An index added to the template after a local table was made.

    dynalite accepts UpdateTable's index creation and silently ignores it, so
    the local table is rebuilt with its items: read them all, create the
    table anew from the template, write them back. Local data only; AWS
    applies template changes through CloudFormation.
    """
    table = dynamodb.describe_table(TableName=props["TableName"])["Table"]
    have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    missing = [i["IndexName"] for i in props.get("GlobalSecondaryIndexes", []) if i["IndexName"] not in have]
    if not missing:
        return
    log.warning("local stack: rebuilding %s to add index(es) %s; its items are kept",
                props["TableName"], ", ".join(missing))
    items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=props["TableName"])
             for item in page["Items"]]
    dynamodb.delete_table(TableName=props["TableName"])
    dynamodb.get_waiter("table_not_exists").wait(TableName=props["TableName"],
                                                 WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    dynamodb.create_table(**table_definition(props))
    dynamodb.get_waiter("table_exists").wait(TableName=props["TableName"],
                                             WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    for start in range(0, len(items), 25):
        pending = {props["TableName"]: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _create_buckets(s3: Any, template: dict[str, Any], params: dict[str, str]) -> None:
    for props in of_type(template, "AWS::S3::Bucket", params).values():
        s3.create_bucket(Bucket=props["BucketName"])
        if "CorsConfiguration" in props:
            s3.put_bucket_cors(Bucket=props["BucketName"], CORSConfiguration=cors_rules(props["CorsConfiguration"]))


def cors_rules(cfn: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's CorsConfiguration in the S3 API's spelling."""
    renamed = {"MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders", "Id": "ID"}
    return {"CORSRules": [{renamed.get(k, k): v for k, v in rule.items()} for rule in cfn["CorsRules"]]}


def _put_secrets(client: Any, template: dict[str, Any], params: dict[str, str],
                 new_secret: Callable[[str], str], saved: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for props in of_type(template, "AWS::SecretsManager::Secret", params).values():
        name = props["Name"]
        value = saved.get(name) or new_secret(name)
        try:
            client.create_secret(Name=name, SecretString=value)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)
        values[name] = value
    return values

