"""AWS list prices for the cost benchmark, in one table, and the one function that prices counted usage.

Source: the AWS pricing pages "AWS Lambda pricing" (x86, requests and
duration), "Amazon API Gateway pricing" (REST APIs; WebSocket APIs),
"Amazon DynamoDB pricing" (on-demand), "Amazon SQS pricing" (standard
queues), "Amazon S3 pricing" (requests, S3 Standard), "Amazon CloudFront
pricing" (HTTPS requests), "AWS Secrets Manager pricing" (API calls) and
the AWS STS documentation (no charge), for us-east-1, as of December 2026.
First tiers only: a fleet small enough to read this is in them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

CHALICE_CONFIG = Path(__file__).resolve().parent.parent / "functions" / ".chalice" / "config.json"
CHALICE_DEFAULT_MEMORY_MB = 128


@dataclass(frozen=True)
class Prices:
    region: str = "us-east-1"
    as_of: str = "December 2026"
    lambda_gb_second: float = 0.0000166667
    lambda_request: float = 0.20 / 1e6
    api_gateway_rest_request: float = 3.50 / 1e6
    websocket_message: float = 1.00 / 1e6
    websocket_connection_minute: float = 0.25 / 1e6
    dynamodb_write_unit: float = 0.625 / 1e6
    dynamodb_read_unit: float = 0.125 / 1e6
    sqs_request: float = 0.40 / 1e6  # a 20 s ReceiveMessage long poll is one request
    s3_put_class_request: float = 0.005 / 1000  # PUT, COPY, POST, LIST
    s3_get_class_request: float = 0.0004 / 1000  # GET, HEAD and all others (DELETE is free)
    sts_request: float = 0.0
    cloudfront_https_request: float = 0.0100 / 10_000
    secrets_manager_call: float = 0.05 / 10_000


PRICES = Prices()

S3_PUT_CLASS = frozenset({"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2", "ListBuckets",
                          "ListObjectVersions", "ListMultipartUploads", "CreateMultipartUpload", "UploadPart",
                          "UploadPartCopy", "CompleteMultipartUpload"})
S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})
PRICED_SERVICES = frozenset({"dynamodb", "s3", "sqs", "sts", "secretsmanager"})
S3_METHODS = {"PUT": "put", "POST": "put", "GET": "get", "HEAD": "get", "DELETE": "free"}
_EMPTY: Mapping[str, float] = MappingProxyType({})


def lambda_memory_mb(stage: str = "dev", config: Path = CHALICE_CONFIG) -> int:
    """The API function's configured memory for a stage (Chalice's default when the stage names none)."""
    chalice = json.loads(config.read_text())
    stage_config = chalice.get("stages", {}).get(stage, {})
    return int(stage_config.get("lambda_memory_size", chalice.get("lambda_memory_size", CHALICE_DEFAULT_MEMORY_MB)))


@dataclass(frozen=True)
class Usage:
    """What a scenario used. Counts are floats: a usage scaled or taken from another is one too.

    - api_requests / held_seconds: requests through CloudFront, API Gateway (REST) and the API function,
      and the seconds the function was held by them;
    - aws_calls: "service.Operation" → calls the API function made; read_units / write_units: DynamoDB's;
    - direct_s3: presigned-URL requests straight to S3 (agents' uploads, the browser's chunk reads), by
      HTTP method; direct_sqs: SQS requests made outside the API (an agent waiting on its own queue);
    - websocket_*: API Gateway WebSocket messages and connection-minutes, for a design that pushes.
    """

    api_requests: float = 0.0
    held_seconds: float = 0.0
    aws_calls: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    read_units: float = 0.0
    write_units: float = 0.0
    direct_s3: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    direct_sqs: float = 0.0
    websocket_messages: float = 0.0
    websocket_connection_minutes: float = 0.0

    def scaled(self, factor: float) -> Usage:
        return replace(self, api_requests=self.api_requests * factor, held_seconds=self.held_seconds * factor,
                       aws_calls={k: v * factor for k, v in self.aws_calls.items()},
                       read_units=self.read_units * factor, write_units=self.write_units * factor,
                       direct_s3={k: v * factor for k, v in self.direct_s3.items()},
                       direct_sqs=self.direct_sqs * factor, websocket_messages=self.websocket_messages * factor,
                       websocket_connection_minutes=self.websocket_connection_minutes * factor)

    def __sub__(self, other: Usage) -> Usage:
        return self + other.scaled(-1)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            api_requests=self.api_requests + other.api_requests, held_seconds=self.held_seconds + other.held_seconds,
            aws_calls=_sum(self.aws_calls, other.aws_calls), read_units=self.read_units + other.read_units,
            write_units=self.write_units + other.write_units, direct_s3=_sum(self.direct_s3, other.direct_s3),
            direct_sqs=self.direct_sqs + other.direct_sqs,
            websocket_messages=self.websocket_messages + other.websocket_messages,
            websocket_connection_minutes=self.websocket_connection_minutes + other.websocket_connection_minutes)


def _sum(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {key: a.get(key, 0.0) + b.get(key, 0.0) for key in a.keys() | b.keys()}


def price(usage: Usage, memory_mb: int, prices: Prices = PRICES) -> dict[str, float]:
    """Dollars, itemised by what AWS bills for (see `unpriced` for calls this table cannot price)."""
    calls = _by_service(usage.aws_calls)
    s3_put = sum(n for op, n in calls.get("s3", {}).items() if op in S3_PUT_CLASS)
    s3_get = sum(n for op, n in calls.get("s3", {}).items() if op not in S3_PUT_CLASS | S3_FREE)
    s3_put += sum(n for method, n in usage.direct_s3.items() if S3_METHODS.get(method) == "put")
    s3_get += sum(n for method, n in usage.direct_s3.items() if S3_METHODS.get(method) == "get")
    return {
        "Lambda duration": usage.held_seconds * memory_mb / 1024 * prices.lambda_gb_second,
        "Lambda requests": usage.api_requests * prices.lambda_request,
        "API Gateway REST": usage.api_requests * prices.api_gateway_rest_request,
        "CloudFront": usage.api_requests * prices.cloudfront_https_request,
        "DynamoDB reads": usage.read_units * prices.dynamodb_read_unit,
        "DynamoDB writes": usage.write_units * prices.dynamodb_write_unit,
        "SQS": (sum(calls.get("sqs", {}).values()) + usage.direct_sqs) * prices.sqs_request,
        "S3 PUT-class": s3_put * prices.s3_put_class_request,
        "S3 GET-class": s3_get * prices.s3_get_class_request,
        "Secrets Manager": sum(calls.get("secretsmanager", {}).values()) * prices.secrets_manager_call,
        "STS": sum(calls.get("sts", {}).values()) * prices.sts_request,
        "WebSocket": usage.websocket_messages * prices.websocket_message
        + usage.websocket_connection_minutes * prices.websocket_connection_minute,
    }


def unpriced(usage: Usage) -> dict[str, float]:
    """Calls of services the table has no price for (so a new dependency cannot hide in the total)."""
    return {name: n for name, n in usage.aws_calls.items() if name.partition(".")[0] not in PRICED_SERVICES}


def _by_service(calls: Mapping[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, count in calls.items():
        service, _, operation = name.partition(".")
        out.setdefault(service, {})[operation] = out.get(service, {}).get(operation, 0.0) + count
    return out
