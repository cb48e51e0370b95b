"""The cost benchmark's arithmetic: one table of list prices, and counts priced the way AWS bills them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.prices import PRICES, Usage, lambda_memory_mb, price, unpriced


def test_a_long_poll_held_all_month_at_512_mb_costs_what_the_readme_says() -> None:
    month = 730 * 3600.0
    bill = price(Usage(api_requests=0, held_seconds=month), memory_mb=512)
    assert bill["Lambda duration"] == pytest.approx(21.90, abs=0.01)


def test_each_api_request_pays_cloudfront_api_gateway_and_lambda() -> None:
    bill = price(Usage(api_requests=1_000_000, held_seconds=0), memory_mb=512)
    assert (bill["API Gateway REST"], bill["Lambda requests"], bill["CloudFront"]) == pytest.approx((3.50, 0.20, 1.00))


def test_sqs_counts_the_apis_calls_and_the_agents_own() -> None:
    usage = Usage(api_requests=0, held_seconds=0, aws_calls={"sqs.SendMessage": 400_000}, direct_sqs=600_000)
    assert price(usage, 512)["SQS"] == pytest.approx(0.40)


def test_s3_requests_are_priced_by_class_and_deletes_are_free() -> None:
    usage = Usage(api_requests=0, held_seconds=0, aws_calls={"s3.HeadObject": 1000, "s3.DeleteObject": 1000},
                  direct_s3={"PUT": 1000, "GET": 1000})
    bill = price(usage, 512)
    assert (bill["S3 PUT-class"], bill["S3 GET-class"]) == pytest.approx((0.005, 0.0008))


def test_a_service_without_a_price_is_named_not_dropped() -> None:
    usage = Usage(api_requests=0, held_seconds=0, aws_calls={"kms.Decrypt": 3, "sqs.SendMessage": 1})
    assert unpriced(usage) == {"kms.Decrypt": 3}


def test_the_memory_priced_is_the_stages_configured_memory(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"stages": {"dev": {"lambda_memory_size": 768}, "prod": {}}}))
    assert (lambda_memory_mb("dev", config), lambda_memory_mb("prod", config)) == (768, 128)
    assert lambda_memory_mb() == 512  # functions/.chalice/config.json's dev stage
    assert PRICES.region == "us-east-1" and PRICES.as_of
