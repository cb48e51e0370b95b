"""The agent's own SQS queue: wait on it directly (ReceiveMessage, long poll) and delete what was read.

The control plane rings a host's queue when there is work or a cancel; the
agent waits there instead of on an API call, because a waiting API call holds
a Lambda for the whole wait and an SQS long poll costs one request. The API
hands out the queue's URL and short-lived STS credentials that reach only
that queue (`POST /agent/v1/doorbell`, read by `QueueAccess.from_answer`).

Spoken in SQS's JSON protocol, as botocore does (service model
`sqs/2012-11-05`: protocol "json", target prefix "AmazonSQS"): a SigV4-signed
`POST /` with `X-Amz-Target: AmazonSQS.<Operation>` and a JSON body. HTTP goes
through the control-plane client's `post_raw` (the one module that imports
requests). A call is one attempt: its failure is raised as the `QueueError`
that says what to do next (see each class); the runner decides when.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .client import CallRefused, RawAnswer, Unreachable
from .sigv4 import Credentials, sign

SERVICE = "sqs"
TARGET_PREFIX = "AmazonSQS"
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_WAIT_SECONDS = 20  # SQS's limit for one long poll
MAX_BATCH = 10  # SQS's limit for ReceiveMessage and DeleteMessageBatch
READ_SLACK = 10.0  # after the wait, time for SQS to answer before the read times out
# How long a ring read is hidden from other receives. What the agent reads it deletes at once, so this matters
# only for a receive nobody finishes: that of an agent process that stopped mid-wait (SQS still hands it the
# next ring) puts the ring back after this, not after the queue's 30 s.
VISIBILITY_SECONDS = 5
CALL_TIMEOUT = 20.0  # a call that does not wait (DeleteMessageBatch)


class QueueError(CallRefused):
    """SQS refused a call (or answered something this client cannot read). `code`: the error code without
    its namespace (`QueueDoesNotExist`, `ExpiredToken`…), `status`: HTTP status (0: no answer). Not an
    ApiError, so the runner's handling of the control plane's refusals never takes one for them."""


class CredentialsRejected(QueueError):
    """The credentials expired, are unknown or the signature was refused (clock skew too): ask the API for
    new ones, then wait again."""


class QueueGone(QueueError):
    """The queue does not exist (the host was deregistered, or the local stack restarted): ask the API
    where to wait; if it has no queue for this host, the host is no longer enrolled."""


class AccessDenied(QueueError):
    """The credentials are valid but may not touch this queue (a policy changed, or the API handed out
    another queue's URL): ask the API again, and fall back to waiting through the API if that persists."""


class QueueUnavailable(QueueError):
    """Transient: throttled, SQS's own failure (5xx) or no answer at all. Back off with jitter and retry."""


# Error codes without their namespace, looked up as sent and without a trailing "Exception". Taken, as
# botocore does, from the query-compatible `x-amzn-query-error` header first, then the JSON body's `__type`
# (and from an XML body's <Code>, which moto's IAM check and proxies answer).
_KINDS: dict[str, type[QueueError]] = {
    **dict.fromkeys(["ExpiredToken", "InvalidClientTokenId", "UnrecognizedClient", "SignatureDoesNotMatch",
                     "IncompleteSignature", "InvalidSignature", "MissingAuthenticationToken",
                     "RequestExpired", "InvalidAccessKeyId", "AuthFailure"], CredentialsRejected),
    **dict.fromkeys(["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"], QueueGone),
    **dict.fromkeys(["AccessDenied", "KmsAccessDenied", "InvalidSecurity"], AccessDenied),
    **dict.fromkeys(["RequestThrottled", "Throttling", "OverLimit", "KmsThrottled",
                     "ServiceUnavailable", "InternalFailure", "InternalError"], QueueUnavailable),
}
_XML_FIELD = re.compile(rb"<(Code|Message)>([^<]{1,1000})</")


@dataclass(frozen=True)
class QueueAccess:
    """Where this host waits and with what: the answer of `POST /agent/v1/doorbell`."""

    queue_url: str
    region: str
    endpoint: str
    credentials: Credentials
    wait_seconds: int = MAX_WAIT_SECONDS

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> QueueAccess:
        """ValueError naming the first missing or mistyped field."""
        keys = answer.get("credentials")
        if not isinstance(keys, Mapping):
            raise ValueError("doorbell answer: credentials is not an object")
        expires_at = keys.get("expires_at")
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
            raise ValueError("doorbell answer: credentials.expires_at is not a number")
        credentials = Credentials(_text(keys, "access_key_id"), _text(keys, "secret_access_key"),
                                  _text(keys, "session_token"), float(expires_at))
        wait = answer.get("wait_seconds", MAX_WAIT_SECONDS)
        if not isinstance(wait, int) or isinstance(wait, bool) or not 0 <= wait <= MAX_WAIT_SECONDS:
            raise ValueError(f"doorbell answer: wait_seconds is not an integer in 0..{MAX_WAIT_SECONDS}")
        return cls(_text(answer, "queue_url"), _text(answer, "region"), _text(answer, "endpoint"),
                   credentials, wait)


@dataclass(frozen=True)
class Message:
    """One ring of the doorbell: its body (a hint: the jobs table is the truth) and what deletes it."""

    body: str
    receipt_handle: str
    message_id: str = ""


class Poster(Protocol):
    """The one HTTP seam (`ControlPlane.post_raw`)."""

    def post_raw(self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> RawAnswer: ...


class OwnQueue:
    """ReceiveMessage and DeleteMessageBatch on one queue, signed with the credentials the API handed out.

    `now`: server time (`ControlPlane.server_now`), for signing and for the credentials' expiry. Immutable:
    new credentials make a new OwnQueue.
    """

    def __init__(self, http: Poster, access: QueueAccess, now: Callable[[], float]) -> None:
        self._http = http
        self.access = access
        self._now = now

    def needs_refresh(self) -> bool:
        """Time to ask the API for new credentials (a few minutes before these expire)."""
        return self.access.credentials.needs_refresh(self._now())

    def receive(self, wait_seconds: int | None = None, max_messages: int = MAX_BATCH) -> list[Message]:
        """Messages, or [] once `wait_seconds` (default: the API's) have passed without one."""
        wait = self.access.wait_seconds if wait_seconds is None else wait_seconds
        if not 0 <= wait <= MAX_WAIT_SECONDS or not 1 <= max_messages <= MAX_BATCH:
            raise ValueError(f"wait 0..{MAX_WAIT_SECONDS} s and 1..{MAX_BATCH} messages, not {wait}, {max_messages}")
        answer = self._call("ReceiveMessage", {"MaxNumberOfMessages": max_messages, "WaitTimeSeconds": wait,
                                               "VisibilityTimeout": VISIBILITY_SECONDS},
                            timeout=wait + READ_SLACK)
        messages = answer.get("Messages")
        return [_message(item) for item in messages] if isinstance(messages, list) else []

    def delete(self, receipt_handles: Sequence[str]) -> list[str]:
        """Delete received messages, ten a call; returns the receipt handles SQS would not delete (stale
        ones: the message comes back after its visibility timeout, a harmless repeated ring)."""
        refused: list[str] = []
        for start in range(0, len(receipt_handles), MAX_BATCH):
            batch = receipt_handles[start:start + MAX_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(batch)]
            answer = self._call("DeleteMessageBatch", {"Entries": entries}, timeout=CALL_TIMEOUT)
            failed = answer.get("Failed")
            for entry in failed if isinstance(failed, list) else []:
                index = entry.get("Id") if isinstance(entry, dict) else None
                if isinstance(index, str) and index.isdigit() and int(index) < len(batch):
                    refused.append(batch[int(index)])
        return refused

    def _call(self, operation: str, params: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        access = self.access
        now = self._now()
        if access.credentials.expired(now):
            raise CredentialsRejected(0, "ExpiredToken", "the credentials expired before the call (not sent)")
        body = json.dumps({"QueueUrl": access.queue_url, **params}, separators=(",", ":")).encode()
        headers = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
                   "X-Amzn-Query-Mode": "true"}  # as botocore: error codes in the query protocol's words too
        signed = sign("POST", access.endpoint, headers, body, service=SERVICE, region=access.region,
                      credentials=access.credentials, now=now)
        try:
            answer = self._http.post_raw(access.endpoint, body, signed, timeout=timeout)
        except Unreachable as exc:
            raise QueueUnavailable(0, "unreachable", exc.message) from exc
        if not 200 <= answer.status < 300:
            raise error_of(answer)
        result = _json_object(answer.body)
        if result is None:
            raise QueueError(answer.status, "bad_response", f"{operation} answered something other than JSON")
        return result


def error_of(answer: RawAnswer) -> QueueError:
    """The QueueError for a refusal: by error code, else by status (429 and 5xx transient, 403 denied)."""
    code, message = _code_and_message(answer)
    kind = _KINDS.get(code) or _KINDS.get(code.removesuffix("Exception"))
    if kind is None:
        if answer.status == 429 or answer.status >= 500:
            kind = QueueUnavailable
        elif answer.status == 403:
            kind = AccessDenied
        else:
            kind = QueueError
    return kind(answer.status, code, message)


def _code_and_message(answer: RawAnswer) -> tuple[str, str]:
    body = _json_object(answer.body)
    if body is None:  # an XML error, as moto's IAM check, or a proxy, may answer
        body = {name.decode(): value.decode(errors="replace") for name, value in _XML_FIELD.findall(answer.body)}
    query_code = answer.headers.get("x-amzn-query-error", "").split(";")[0]
    code = query_code or str(body.get("__type") or body.get("Code") or answer.headers.get("x-amzn-ErrorType")
                             or f"http_{answer.status}")
    message = str(body.get("message") or body.get("Message") or f"HTTP {answer.status}")
    return code.split(":", 1)[0].rsplit("#", 1)[-1], message


def _message(item: Any) -> Message:
    if not isinstance(item, dict) or not isinstance(item.get("ReceiptHandle"), str):
        raise QueueError(200, "bad_response", "a message without a receipt handle")
    return Message(str(item.get("Body", "")), item["ReceiptHandle"], str(item.get("MessageId", "")))


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(source: Mapping[str, Any], name: str) -> str:
    value = source.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"doorbell answer: {name} is not a non-empty string")
    return value
