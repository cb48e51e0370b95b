"""Binds every PynamoDB model to its table name for the current stage, and
reads or writes items of several tables in one request.

Table names are `<prefix><suffix>`, the same names the infra template gives
them; `TABLES` maps the template's logical ids to the model that owns each
table (a test holds the two against each other). Endpoints come from the
environment (AWS_ENDPOINT_URL_DYNAMODB), never from Meta.host.

`read_together` and `write_together` exist because a request that needs a few
independent items (the caller's account and session and the host it names;
a new job and its audit record) should pay one round trip to the store, not
one per item. Both are single-item operations underneath: no atomicity across
items is implied (dynalite has no transactions, and the design uses none).
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, PynamoDBException, UpdateError
from pynamodb.models import Model

from .agents.models import Agent, EnrollmentToken
from .audit.models import AuditRecord
from .auth.models import ApiKey, EmailClaim, Session, Throttle, User
from .changes.models import FleetVersion
from .consoles.models import Console
from .deployments.models import Manifest, SshKey
from .errors import StoreBusy
from .jobs.models import Job
from .settings import Settings, settings
from .vms.models import Vm

# logical id in infra/template.yaml → (table name suffix, models stored in it; the first owns the schema)
TABLES: dict[str, tuple[str, tuple[type[Model], ...]]] = {
    "UsersTable": ("users", (User, EmailClaim, FleetVersion)),
    "EnrollmentTokensTable": ("enrollment-tokens", (EnrollmentToken,)),
    "AgentsTable": ("agents", (Agent,)),
    "VmsTable": ("vms", (Vm,)),
    "JobsTable": ("jobs", (Job,)),
    "ConsolesTable": ("consoles", (Console,)),
    "AuditTable": ("audit", (AuditRecord,)),
    "SessionsTable": ("sessions", (Session,)),
    "ApiKeysTable": ("api-keys", (ApiKey,)),
    "ThrottleTable": ("throttle", (Throttle,)),
    "ManifestsTable": ("manifests", (Manifest,)),
    "SshKeysTable": ("ssh-keys", (SshKey,)),
}

M = TypeVar("M", bound=Model)
# An item to read: (model, hash key) or (model, hash key, range key).
ItemKey = tuple[Any, ...]
BATCH_ROUNDS = 6  # tries for what the store left unprocessed (throttling) before giving up
BATCH_BACKOFF = 0.05  # seconds, doubled each round, full jitter
CONDITION_FAILED = "ConditionalCheckFailedException"
# DynamoDB's ways of saying "too much, too fast"; botocore retries them itself before we see them.
THROTTLING = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


def bind(config: Settings | None = None) -> None:
    config = config or settings()
    for suffix, models in TABLES.values():
        for model in models:
            model.Meta.table_name = config.table_prefix + suffix
            model.Meta.region = config.region
            model._connection = None  # rebuilt with the new name
            model._get_connection().connection.__class__ = _SharedClientConnection
    _connection.cache_clear()
    _forget_client()


class _SharedClientConnection(Connection):
    """A PynamoDB connection whose botocore client is the process's one DynamoDB client.

    PynamoDB makes a client per connection (one per model), lazily and without a lock, from a
    botocore session per thread: a burst of first requests built one each, loading the service
    model every time (about 60 ms of CPU apiece; 200 concurrent readers of a fresh server took
    7 s, all but a few ms of it in client creation). Made once, under a lock, on first use (not
    at bind, so a test's in-process mock is already in place when it is made)."""

    @property
    def client(self) -> Any:
        return _shared_client(self)


_client_lock = threading.Lock()
_client: Any = None


def _shared_client(maker: Connection) -> Any:
    """The one client, made by the first caller with `maker`'s settings; remade, as PynamoDB does,
    when it holds no credentials (botocore keeps a failed lookup's empty answer)."""
    global _client
    made = _client
    if _usable(made):
        return made  # every call after the first: no lock on the store's hot path
    with _client_lock:
        if not _usable(_client):
            maker._client = None  # PynamoDB's getter keeps a connection's own client: it must make one
            _client = Connection.client.fget(maker)  # type: ignore[attr-defined]
        return _client


def _usable(client: Any) -> bool:
    return client is not None and not (client._request_signer and not client._request_signer._credentials)


def _forget_client() -> None:
    global _client
    with _client_lock:
        _client = None


@functools.lru_cache(maxsize=1)
def _connection() -> Connection:
    return _SharedClientConnection(region=settings().region)


def get_or_none(model: type[M], hash_key: Any, range_key: Any = None, *, consistent_read: bool = False,
                attributes_to_get: Sequence[str] | None = None) -> M | None:
    """The item, or None where there is none: a missing item is an answer (often a 404), not an error."""
    try:
        return model.get(hash_key, range_key, consistent_read=consistent_read, attributes_to_get=attributes_to_get)
    except DoesNotExist:
        return None


def read_together(*keys: ItemKey) -> list[Any]:
    """The items named by `keys` (each `(Model, hash key[, range key])`, at most 100, no two alike),
    read with one strongly consistent BatchGetItem across their tables: each the stored item, or None."""
    asked = [(key[0], key[0].get_operation_kwargs_from_class(*key[1:])) for key in keys]
    pending: dict[str, Any] = {}
    for _, kwargs in asked:
        pending.setdefault(kwargs["TableName"], {"Keys": [], "ConsistentRead": True})["Keys"].append(kwargs["Key"])
    found: dict[str, list[dict[str, Any]]] = {}
    for round_ in range(BATCH_ROUNDS):
        answer = _dispatch("BatchGetItem", {"RequestItems": pending})
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        pending = answer.get("UnprocessedKeys") or {}
        if not pending:
            return [_match(model, kwargs, found) for model, kwargs in asked]
        _pause(round_)
    raise StoreBusy()  # keys left unprocessed round after round: the store is throttling them


def write_together(*items: Model) -> None:
    """Put new items (at most 25, any tables) with one BatchWriteItem. Unconditional: only for
    items whose keys are fresh random ids, which no other writer can be creating."""
    pending: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        kwargs = item.get_save_kwargs_from_instance()
        pending.setdefault(kwargs["TableName"], []).append({"PutRequest": {"Item": kwargs["Item"]}})
    for round_ in range(BATCH_ROUNDS):
        pending = _dispatch("BatchWriteItem", {"RequestItems": pending}).get("UnprocessedItems") or {}
        if not pending:
            return
        _pause(round_)
    raise StoreBusy()  # items left unprocessed round after round: the store is throttling them


def _dispatch(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    with busy_if_throttled():  # PynamoDB passes botocore's own error through `dispatch`, unwrapped
        return _connection().dispatch(operation, request)


def _match(model: Any, kwargs: dict[str, Any], found: dict[str, list[dict[str, Any]]]) -> Any:
    key = kwargs["Key"]
    for item in found.get(kwargs["TableName"], []):
        if all(item.get(name) == value for name, value in key.items()):
            return model.from_raw_data(item)
    return None


def _pause(round_: int) -> None:
    time.sleep(random.uniform(0, BATCH_BACKOFF * 2 ** round_))  # noqa: S311 - jitter, not security


@dataclass
class Race:
    """How a conditional write went: `lost` when its condition did not hold, with the error that said so."""

    lost: bool = False
    error: PynamoDBException | None = None


@contextlib.contextmanager
def race() -> Iterator[Race]:
    """Make one conditional write; a failed condition is an outcome (`race.lost`), not an error.

        with store.race() as claim:
            job.update(actions=..., condition=...)
        if claim.lost:
            ...  # someone else won, or the item is not as the write expects

    Throttling raises StoreBusy and any other failure propagates: neither says the condition failed.
    """
    outcome = Race()
    try:
        with busy_if_throttled():
            yield outcome
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code != CONDITION_FAILED:
            raise
        outcome.lost, outcome.error = True, exc


@contextlib.contextmanager
def busy_if_throttled() -> Iterator[None]:
    """Turn store throttling into StoreBusy (503, Retry-After); every other failure passes unchanged."""
    try:
        yield
    except (PynamoDBException, ClientError) as exc:
        if throttled(exc):
            raise StoreBusy() from exc
        raise


def throttled(exc: Exception) -> bool:
    """Whether a store failure is throttling, as PynamoDB wraps it or as botocore raises it."""
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code in THROTTLING or _batch_write_gave_up(exc)
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLING


def _batch_write_gave_up(exc: PynamoDBException) -> bool:
    # PynamoDB's Model.batch_write gives up on items the store keeps leaving unprocessed, which it does
    # only when it throttles them, with a PutError that has no cause; every other PutError has one.
    return isinstance(exc, PutError) and exc.cause is None
