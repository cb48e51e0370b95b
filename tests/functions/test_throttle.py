"""Login throttling and the sameness of login failures."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
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


def _clear(prefix: str) -> None:
    for counter in Throttle.scan(Throttle.counter_id.startswith(prefix)):
        counter.delete()


def test_a_burst_of_concurrent_guesses_hashes_no_more_than_the_limit(make_operator: Any,
                                                                     monkeypatch: Any) -> None:
    """Thirty wrong passwords at once on one account (each from its own address): each races for a slot
    before hashing, on dynalite's atomic conditional writes, and only the limit's worth are hashed."""
    from chalicelib.auth import logic, passwords

    op: Operator = make_operator()
    hashed: list[int] = []
    verify = passwords.verify_password

    def counted(password: str, stored: str) -> bool:
        hashed.append(1)
        return verify(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counted)

    def guess(i: int) -> int:
        try:
            logic.login(op.email, f"wrong password {i:04d}", "burst", f"198.51.100.{i}")
        except Exception as exc:  # noqa: BLE001 - the answer's status is what is compared
            return int(getattr(exc, "status", 500))
        return 200

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(guess, range(30)))

    limit = settings().throttle_per_account
    assert len(hashed) == limit, statuses
    assert sorted(statuses) == [401] * limit + [429] * (30 - limit)
    _clear(f"acct#{op.email}#")


def test_a_right_password_gives_its_slot_back(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    for _ in range(settings().throttle_per_account - 1):
        assert _login(client, op.email, "wrong password here").status_code == 401
    for _ in range(5):  # successes do not fill the window
        assert _login(client, op.email, PASSWORD).status_code == 200
    assert _login(client, op.email, "wrong password here").status_code == 401
    assert _login(client, op.email, PASSWORD).status_code == 429
    _clear(f"acct#{op.email}#")


def test_wrong_current_passwords_count_with_the_accounts_login_failures(client: Client, make_operator: Any) -> None:
    op: Operator = make_operator()
    headers = {**JSON, **op.headers}

    def change(current: str) -> Any:
        return client.http.post("/api/me/password", headers=headers, body=json.dumps(
            {"current_password": current, "new_password": "a brand new password 42"}))

    answers = [change("not my password at all").status_code for _ in range(settings().throttle_per_account + 2)]
    assert answers == [400] * settings().throttle_per_account + [429, 429]
    assert _login(client, op.email, PASSWORD).status_code == 429  # a stolen token bought no extra guesses
    _clear(f"acct#{op.email}#")
