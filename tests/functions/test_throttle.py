"""Login throttling and the sameness of login failures."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from chalice.local import LambdaEventConverter
from chalice.test import Client
from chalicelib.auth import throttle
from chalicelib.auth.models import Throttle
from chalicelib.settings import settings

from .conftest import PASSWORD, Operator

JSON = {"Content-Type": "application/json"}


def _login(client: Client, email: str, password: str) -> Any:
    return client.http.post("/api/auth/login", headers=JSON, body=json.dumps({"email": email, "password": password}))


def test_ten_failures_lock_the_account_for_the_window_not_for_good(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    other: Operator = make_operator()
    for _ in range(10):
        assert _login(client, op.email, "wrong password here").status_code == 401
    blocked = _login(client, op.email, PASSWORD)  # even the right password waits
    assert (blocked.status_code, blocked.json_body["error"]["code"]) == (429, "too_many_attempts")
    retry_after = int({k.lower(): v for k, v in blocked.headers.items()}["retry-after"])
    assert 1 <= retry_after <= 900
    assert _login(client, other.email, PASSWORD).status_code == 200
    # When the window has passed (its counter is gone), the account logs in again.
    for counter in Throttle.scan(Throttle.counter_id.startswith(f"acct#{op.email}#")):
        counter.delete()
    assert _login(client, op.email, PASSWORD).status_code == 200


def test_a_noisy_source_is_throttled_across_accounts(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    source = _login(client, "nobody@example.com", "wrong password here")
    assert source.status_code == 401
    # This window's counter: an earlier window's (a run that crossed a boundary) no longer counts.
    # chalice.test.Client's requests all come from LambdaEventConverter.LOCAL_SOURCE_IP; other tests fail logins
    # from other (viewer) addresses, whose counters must not be the one picked here.
    window = f"#{int(time.time()) // settings().throttle_window_seconds}"
    counter = Throttle.get(f"src#{LambdaEventConverter.LOCAL_SOURCE_IP}{window}")
    assert counter.failures >= 1
    counter.update(actions=[Throttle.failures.set(100)])
    answer = _login(client, op.email, PASSWORD)
    assert (answer.status_code, answer.json_body["error"]["code"]) == (429, "too_many_attempts")
    counter.delete()


def test_unknown_email_and_wrong_password_take_similar_time(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()

    def timed(email: str) -> float:
        start = time.perf_counter()
        assert _login(client, email, "not the right password").status_code == 401
        return time.perf_counter() - start

    known, unknown = [], []
    for _ in range(4):
        known.append(timed(op.email))
        unknown.append(timed("nobody-at-all@example.com"))
    for counter in Throttle.scan():
        counter.delete()
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.7 < ratio < 1.4, (known, unknown)


def test_counters_are_per_window() -> None:
    ids = [c for c, _ in throttle._counters("A@Example.com", "10.0.0.1")]
    window = int(time.time()) // 900
    assert ids == [f"acct#a@example.com#{window}", f"src#10.0.0.1#{window}"]
