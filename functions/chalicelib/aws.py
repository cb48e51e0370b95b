"""The one seam where AWS clients are made, lazily and once per warm Lambda.

boto3 picks up AWS_ENDPOINT_URL from the environment, so the same code talks
to AWS, or to moto's server in the local stack and in tests.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .settings import settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient


def _config(**extra: Any) -> Config:
    # Long polls hold a connection for up to 20 s, so the pool must not starve.
    return Config(region_name=settings().region, max_pool_connections=64,
                  retries={"mode": "standard", "max_attempts": 3}, **extra)


def _s3_config() -> Config:
    # Presigned URLs name S3's regional endpoint in every region (botocore's default in us-east-1 is
    # the global s3.amazonaws.com), the one origin the web app's CSP lets it fetch chunks from.
    return _config(signature_version="s3v4", s3={"addressing_style": "path", "us_east_1_regional_endpoint": "regional"})


@functools.lru_cache(maxsize=1)
def s3() -> "S3Client":
    return boto3.client("s3", config=_s3_config())


@functools.lru_cache(maxsize=1)
def s3_presigner() -> "S3Client":
    """The client that signs presigned URLs: the same as s3() unless the URLs must name a public endpoint."""
    public = settings().s3_public_endpoint
    if not public:
        return s3()
    return boto3.client("s3", endpoint_url=public, config=_s3_config())


@functools.lru_cache(maxsize=1)
def sqs() -> "SQSClient":
    # read_timeout must outlast the longest WaitTimeSeconds.
    return boto3.client("sqs", config=_config(read_timeout=30))


@functools.lru_cache(maxsize=1)
def secrets() -> "SecretsManagerClient":
    return boto3.client("secretsmanager", config=_config())


@functools.lru_cache(maxsize=1)
def sts() -> "STSClient":
    # The regional endpoint: the global one is a single region's dependency, and STS is free either way.
    return boto3.client("sts", config=_config())


def reset() -> None:
    """Forget cached clients (tests that point the process at another endpoint)."""
    for made in (s3, s3_presigner, sqs, secrets, sts):
        made.cache_clear()
