"""Configuration, resolved once into a frozen object.

Order: explicit argument → environment → default. Handlers never read
os.environ themselves; they call settings(). AWS endpoints are not here:
boto3 and PynamoDB read AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB
themselves, which is how the local stack points them at moto and dynalite.
The one endpoint here is `s3_public_endpoint`: the address presigned URLs
name, for the agents and browsers that use them, when it is not the one the
control plane itself reaches S3 by (a VPC endpoint in AWS; a fault-injecting
proxy in front of moto in the tests).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    region: str = "us-east-1"
    bucket: str = ""
    table_prefix: str = ""
    queue_prefix: str = ""
    job_key_secret: str = ""
    token_key_secret: str = ""
    # The keyring whose keys seal secrets into job records (sealing.py).
    seal_key_secret: str = ""
    issuer: str = ""
    access_token_seconds: int = 900
    lease_seconds: int = 120
    # A fresh claim holds only this long until the agent acknowledges it (its first lease call, `running`):
    # a claim answered into a dead long poll lapses after this, not after a whole lease.
    claim_ack_seconds: int = 30
    delivery_seconds: int = 600
    max_attempts: int = 3
    upload_url_seconds: int = 900
    result_max_bytes: int = 1024 * 1024
    max_poll_wait: int = 20
    agent_token_leeway: int = 60
    # Agents beat every 7 min (agents/logic.py): stale after a late or retried beat, lost after half an hour.
    stale_after_seconds: int = 600
    lost_after_seconds: int = 1800
    # While a page looks (agents/logic.ping): a host unheard this long is asked for a beat, and an
    # unanswered ask shows it stale after the second.
    ping_after_seconds: int = 30
    ping_answer_seconds: int = 15
    signup_enabled: bool = False
    secure_cookies: bool = True
    session_absolute_seconds: int = 12 * 3600
    session_idle_seconds: int = 30 * 60
    throttle_window_seconds: int = 15 * 60
    throttle_per_account: int = 10
    throttle_per_source: int = 100
    fleet_key_sha256: str = ""
    fleet_owner_id: str = ""
    console_idle_seconds: int = 600
    console_chunk_max_bytes: int = 64 * 1024
    # The address hosts reach the control plane at (install script, agent settings); empty:
    # taken from each request (see distribution/package.py).
    public_url: str = ""
    s3_public_endpoint: str = ""
    key_cache_seconds: int = 300  # how long a warm Lambda keeps a keyring: how soon a rotation step is seen
    # Agents wait on their own queue with credentials from this role, narrowed to that queue
    # (jobs/queue_access.py); empty: agents are told to long-poll the API instead.
    doorbell_role_arn: str = ""
    doorbell_credential_seconds: int = 3600  # STS caps a chained role session at one hour
    # The SQS endpoint agents reach (empty: the region's public one); locally moto's, or a test proxy.
    sqs_public_endpoint: str = ""
    # The secret our CloudFront distribution sends as X-Fleetvisor-Origin-Verify: only a request carrying it
    # has a CloudFront-Viewer-Address worth believing (web.Call.source_ip). Empty: believe none. Not in repr,
    # so a logged Settings does not show it.
    origin_verify: str = field(default="", repr=False)


def from_environment(env: Mapping[str, str], **overrides: object) -> Settings:
    stage = str(overrides.get("stage") or env.get("FLEETVISOR_STAGE", "local"))
    prefix = f"fleetvisor-{stage}-"
    values: dict[str, object] = {
        "stage": stage,
        "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", "us-east-1"),
        "bucket": env.get("FLEETVISOR_BUCKET", f"{prefix}objects"),
        "table_prefix": env.get("FLEETVISOR_TABLE_PREFIX", prefix),
        "queue_prefix": env.get("FLEETVISOR_QUEUE_PREFIX", prefix),
        "job_key_secret": env.get("FLEETVISOR_JOB_KEY_SECRET", f"fleetvisor/{stage}/job-signing-key"),
        "token_key_secret": env.get("FLEETVISOR_TOKEN_KEY_SECRET", f"fleetvisor/{stage}/access-token-key"),
        "seal_key_secret": env.get("FLEETVISOR_SEAL_KEY_SECRET", f"fleetvisor/{stage}/sealing-key"),
        "issuer": env.get("FLEETVISOR_ISSUER", f"fleetvisor-{stage}"),
    }
    values["signup_enabled"] = env.get("FLEETVISOR_SIGNUP", "") == "1"
    # Cookies are Secure everywhere but on the plain-HTTP local stack.
    values["secure_cookies"] = env.get("FLEETVISOR_SECURE_COOKIES", "0" if stage == "local" else "1") == "1"
    # A fleet-wide registration key, off unless both are set; only its SHA-256 is configured.
    values["fleet_key_sha256"] = env.get("FLEETVISOR_FLEET_KEY_SHA256", "")
    values["fleet_owner_id"] = env.get("FLEETVISOR_FLEET_OWNER", "")
    values["public_url"] = env.get("FLEETVISOR_PUBLIC_URL", "")
    values["s3_public_endpoint"] = env.get("FLEETVISOR_S3_PUBLIC_ENDPOINT", "")
    values["doorbell_role_arn"] = env.get("FLEETVISOR_DOORBELL_ROLE_ARN", "")
    values["sqs_public_endpoint"] = env.get("FLEETVISOR_SQS_PUBLIC_ENDPOINT", "")
    values["origin_verify"] = env.get("FLEETVISOR_ORIGIN_VERIFY", "")
    if "FLEETVISOR_DELIVERY_SECONDS" in env:
        values["delivery_seconds"] = int(env["FLEETVISOR_DELIVERY_SECONDS"])
    if "FLEETVISOR_CONSOLE_IDLE_SECONDS" in env:
        values["console_idle_seconds"] = int(env["FLEETVISOR_CONSOLE_IDLE_SECONDS"])
    if "FLEETVISOR_KEY_CACHE_SECONDS" in env:
        values["key_cache_seconds"] = int(env["FLEETVISOR_KEY_CACHE_SECONDS"])
    if "FLEETVISOR_CLAIM_ACK_SECONDS" in env:
        values["claim_ack_seconds"] = int(env["FLEETVISOR_CLAIM_ACK_SECONDS"])
    for name in ("ping_after_seconds", "ping_answer_seconds"):
        if f"FLEETVISOR_{name.upper()}" in env:
            values[name] = int(env[f"FLEETVISOR_{name.upper()}"])
    if "FLEETVISOR_LEASE_SECONDS" in env:
        values["lease_seconds"] = int(env["FLEETVISOR_LEASE_SECONDS"])
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return from_environment(os.environ)
