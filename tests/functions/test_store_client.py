"""The store's DynamoDB client: one for the process, made once even when a burst of first requests
arrives together (a client per model and thread cost 60 ms of CPU each: 200 concurrent readers of a
fresh local server took 7 s)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.session import Session
from chalicelib import store
from chalicelib.auth.models import User


def test_a_burst_of_first_reads_makes_one_client_that_every_model_shares(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    create_client = Session.create_client

    def counted(self: Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service_name)
        return create_client(self, service_name, *args, **kwargs)

    monkeypatch.setattr(Session, "create_client", counted)
    store.bind()
    gate = threading.Barrier(16)
    answers: list[Any] = []

    def first_read() -> None:
        gate.wait()
        answers.append(store.get_or_none(User, "usr_nobody"))

    readers = [threading.Thread(target=first_read) for _ in range(16)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert answers == [None] * 16
    assert made == ["dynamodb"]
    models = [model for _, group in store.TABLES.values() for model in group]
    clients = {id(model._get_connection().connection.client) for model in models} | {id(store._connection().client)}
    assert len(clients) == 1
    assert made == ["dynamodb"]
