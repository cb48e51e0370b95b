"""Job-signing keys rotated for real while a job runs, with the rotation tool (infra/keys.py) against the
fault stack's Secrets Manager: a job signed by the old key completes after the new one took over, the next
job is signed by the new key and runs, the retired key is dropped by the agent; and an announcement that
no key the agent pins has signed changes nothing, and the jobs its key signs do not run.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from infra import keys as keys_tool
from infra.local import LocalStack
from tests.conftest import wait_until

from .conftest import Proxies
from .fault_helpers import Operator, agent_log, attempts_run

pytestmark = pytest.mark.e2e


def _rotate(stack: LocalStack, *args: str) -> None:
    assert keys_tool.run([*args, "--local", str(stack.root), "--force"]) == 0


def _secret(stack: LocalStack) -> keys_tool.Secret:
    return keys_tool.secret_for("job", "local", stack.root)


def _pinned(stack: LocalStack) -> tuple[set[str], int]:
    state = json.loads((stack.root / "agent" / "state.json").read_text())
    return set(state["signing_keys"]), state["signing_keys_serial"]


def _signed_by(stack: LocalStack, job_id: str) -> str:
    [kid] = set(re.findall(rf"job accepted job_id={job_id} attempt=\d+ op=\S+ kid=(\S+)", agent_log(stack)))
    return kid


def test_keys_rotate_while_a_job_runs_and_each_job_runs_once(faulty: LocalStack, proxies: Proxies) -> None:
    op = Operator(faulty)
    old = _secret(faulty).read()
    proxies.s3.stall()  # the first job is held mid-upload, signed by the old key, all through the rotation
    try:
        first = op.act("reboot")
        wait_until(lambda: proxies.s3.live() and op.job(first)["status"] == "running", what="the upload in flight")
        _rotate(faulty, "add")
        [new_kid] = set(_secret(faulty).read().private) - {old.active_kid}
        wait_until(lambda: _pinned(faulty) == ({old.active_kid, new_kid}, old.serial + 1), what="the new key pinned")
        _rotate(faulty, "activate", new_kid)
        time.sleep(1.5)  # the API's keyring cache (1 s here)
    finally:
        proxies.heal()
    done = op.wait_final(first)
    second = op.reboot()
    _rotate(faulty, "retire", old.active_kid)
    wait_until(lambda: _pinned(faulty) == ({new_kid}, old.serial + 2), what="the old key dropped")

    for job, kid in ((done, old.active_kid), (second, new_kid)):
        assert (job["status"], job["attempt"]) == ("succeeded", 1), job
        assert attempts_run(faulty, job["job_id"]) == [1] and _signed_by(faulty, job["job_id"]) == kid


def test_an_announcement_no_pinned_key_signed_changes_nothing(faulty: LocalStack) -> None:
    op = Operator(faulty)
    secret = _secret(faulty)
    real = secret.read()
    before = _pinned(faulty)
    mark = len(agent_log(faulty))
    # What an impostor would announce: a key of its own, signed by itself, with a serial far ahead.
    forged = keys_tool.keys.parse(keys_tool.keys.new_secret_value("forged"))
    forged = keys_tool.keys.Keyring(forged.active_kid, forged.private, real.serial + 10, int(time.time()))
    secret.client.put_secret_value(SecretId=secret.name, SecretString=keys_tool.keys.dump(forged))
    try:
        wait_until(lambda: "announcement refused reason=unknown_kid" in agent_log(faulty)[mark:], timeout=15,
                   what="the forged announcement refused")
        job = op.wait_final(op.act("reboot"))  # signed by the forged key
    finally:
        secret.client.put_secret_value(SecretId=secret.name, SecretString=keys_tool.keys.dump(real))
    time.sleep(1.5)
    assert _pinned(faulty) == before
    assert (job["status"], job["exit_code"], job["summary"]) == ("failed", 1, "refused: unknown_kid"), job
    assert attempts_run(faulty, job["job_id"]) == []  # verified before anything ran: nothing did
    assert op.reboot()["status"] == "succeeded"
