"""SigV4 without botocore: AWS's published test-suite vectors, and the same headers as botocore's SigV4Auth."""

from __future__ import annotations

import calendar
import datetime
import json

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from fleetvisor_agent.sigv4 import Credentials, canonical_uri, sign, signing_key

# From AWS's SigV4 test suite (aws-sig-v4-test-suite): its example key, 2015-08-30T12:36:00Z, "service".
SUITE_KEY = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = calendar.timegm((2015, 8, 30, 12, 36, 0))
SUITE = [  # case, method, URL, headers, body, signed headers, signature
    ("get-vanilla", "GET", "https://example.amazonaws.com/", {}, b"", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("post-vanilla", "POST", "https://example.amazonaws.com/", {}, b"", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("post-x-www-form-urlencoded", "POST", "https://example.amazonaws.com/",
     {"Content-Type": "application/x-www-form-urlencoded"}, b"Param1=value1", "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    ("get-vanilla-query-order-key-case", "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", {},
     b"", "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
]
SESSION = Credentials("ASIAEXAMPLEAGENTKEY1", "agent secret/with+symbols", "IQoJb3JpZ2luX2VjE" + "x" * 300,
                      expires_at=2_000_000_000)
WHEN = calendar.timegm((2025, 12, 31, 23, 59, 59))
SQS_HEADERS = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ReceiveMessage",
               "X-Amzn-Query-Mode": "true"}


def _receive_body(queue_url: str, **extra: object) -> bytes:
    return json.dumps({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20, **extra}).encode()


def _botocore_headers(monkeypatch: pytest.MonkeyPatch, method: str, url: str, headers: dict[str, str],
                      body: bytes, region: str, credentials: Credentials, now: float) -> dict[str, str]:
    """What botocore's own signer adds to the same request at the same instant."""
    frozen = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_args, **_kw: frozen)
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    keys = BotoCredentials(credentials.access_key_id, credentials.secret_access_key, credentials.session_token)
    botocore.auth.SigV4Auth(keys, "sqs", region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(("case", "method", "url", "headers", "body", "signed", "signature"), SUITE,
                         ids=[case[0] for case in SUITE])
def test_aws_test_suite_vectors(case: str, method: str, url: str, headers: dict[str, str], body: bytes,
                                signed: str, signature: str) -> None:
    out = sign(method, url, headers, body, service="service", region="us-east-1", credentials=SUITE_KEY,
               now=SUITE_TIME)

    assert out["Authorization"] == ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                                    f"aws4_request, SignedHeaders={signed}, Signature={signature}")
    assert out["X-Amz-Date"] == "20150830T123600Z"
    assert "X-Amz-Security-Token" not in out


def test_signing_key_matches_the_documented_derivation() -> None:
    # AWS's "Deriving the signing key" example (IAM, 2012-02-15).
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")

    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


@pytest.mark.parametrize(("url", "region", "body"), [
    ("https://sqs.us-east-1.amazonaws.com", "us-east-1",
     _receive_body("https://sqs.us-east-1.amazonaws.com/123456789012/fv-agent-ag_0f")),
    ("https://sqs.eu-central-1.amazonaws.com/", "eu-central-1",
     _receive_body("https://sqs.eu-central-1.amazonaws.com/123456789012/q", WaitTimeSeconds=0)),
    ("http://127.0.0.1:5000/", "us-east-1", _receive_body("http://127.0.0.1:5000/123456789012/q")),
    ("https://sqs.ap-southeast-2.amazonaws.com:443/", "ap-southeast-2",
     json.dumps({"QueueUrl": "q", "Entries": [{"Id": "0", "ReceiptHandle": "AQEB+/= ünïcødé"}]},
                ensure_ascii=False).encode()),
    ("https://sqs.us-west-2.amazonaws.com/", "us-west-2", b""),
], ids=["us-east-1", "eu-central-1", "moto-port", "default-port-unicode", "empty-body"])
def test_same_headers_as_botocore(monkeypatch: pytest.MonkeyPatch, url: str, region: str, body: bytes) -> None:
    ours = sign("POST", url, SQS_HEADERS, body, service="sqs", region=region, credentials=SESSION, now=WHEN)
    theirs = _botocore_headers(monkeypatch, "POST", url, SQS_HEADERS, body, region, SESSION, WHEN)

    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"] == "20251231T235959Z"
    assert ours["X-Amz-Security-Token"] == theirs["X-Amz-Security-Token"] == SESSION.session_token


def test_same_as_botocore_without_a_session_token(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = Credentials("AKIAEXAMPLELONGTERM1", "long-term secret")
    url, body = "https://sqs.us-east-1.amazonaws.com/", _receive_body("q")

    ours = sign("POST", url, SQS_HEADERS, body, service="sqs", region="us-east-1", credentials=keys, now=WHEN)

    assert ours["Authorization"] == _botocore_headers(monkeypatch, "POST", url, SQS_HEADERS, body, "us-east-1",
                                                      keys, WHEN)["Authorization"]
    assert "X-Amz-Security-Token" not in ours


def test_header_values_are_trimmed_as_botocore_does(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {**SQS_HEADERS, "X-Amz-Meta-Note": "  two   spaces\tand a tab  "}
    url, body = "https://sqs.us-east-1.amazonaws.com/", _receive_body("q")

    ours = sign("POST", url, headers, body, service="sqs", region="us-east-1", credentials=SESSION, now=WHEN)

    assert ours["Authorization"] == _botocore_headers(monkeypatch, "POST", url, headers, body, "us-east-1",
                                                      SESSION, WHEN)["Authorization"]


@pytest.mark.parametrize("path", ["/123456789012/fv-agent-q", "/a/./b/../c//d/", "/with%20space/x%2Fy", "", "/.."])
def test_canonical_uri_as_botocore(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    url = "https://sqs.us-east-1.amazonaws.com" + path

    ours = sign("POST", url, SQS_HEADERS, b"{}", service="sqs", region="us-east-1", credentials=SESSION, now=WHEN)

    assert ours["Authorization"] == _botocore_headers(monkeypatch, "POST", url, SQS_HEADERS, b"{}", "us-east-1",
                                                      SESSION, WHEN)["Authorization"]


def test_canonical_uri_encodes_the_wire_path_again() -> None:
    assert canonical_uri("/a/./b/../c//d/") == "/a/c/d/"
    assert canonical_uri("/x%2Fy z") == "/x%252Fy%20z"
    assert canonical_uri("") == "/"


def test_the_clock_is_the_argument() -> None:
    # A host's own clock does not matter: the agent signs with its estimate of server time.
    first = sign("POST", "https://sqs.us-east-1.amazonaws.com/", SQS_HEADERS, b"{}", service="sqs",
                 region="us-east-1", credentials=SESSION, now=WHEN)
    later = sign("POST", "https://sqs.us-east-1.amazonaws.com/", SQS_HEADERS, b"{}", service="sqs",
                 region="us-east-1", credentials=SESSION, now=WHEN + 1)

    assert first["X-Amz-Date"] == "20251231T235959Z"
    assert later["X-Amz-Date"] == "20260101T000000Z"
    assert "Credential=ASIAEXAMPLEAGENTKEY1/20260101/us-east-1/sqs/aws4_request" in later["Authorization"]


def test_credentials_need_refresh_minutes_before_they_expire() -> None:
    keys = Credentials("ASIA", "secret", "token", expires_at=10_000.0)

    assert not keys.needs_refresh(10_000.0 - 301)
    assert keys.needs_refresh(10_000.0 - 300)
    assert not keys.expired(9_999.9)
    assert keys.expired(10_000.0)
    assert not Credentials("AKIA", "secret").needs_refresh(1e12)


def test_secrets_stay_out_of_repr() -> None:
    assert "secret" not in repr(SESSION)
    assert "IQoJ" not in repr(SESSION)
