"""Each Lambda works from its own entry point: the packaged sweeper's handler is
`chalicelib.jobs.routes.sweep_jobs`, so app.py never runs in that Lambda."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from chalicelib.jobs.models import Job

from infra.local import REPO, LocalStack

from .conftest import FakeHost, Operator, queue_without_ringing

# What EventBridge hands a scheduled Lambda (Chalice's CloudWatchEvent reads every field).
SCHEDULED_EVENT = {"version": "0", "id": "5f0e7c1a-0000-0000-0000-000000000000", "detail-type": "Scheduled Event",
                   "source": "aws.events", "account": "123456789012", "time": "2024-12-06T13:00:00Z",
                   "region": "us-east-1", "resources": [], "detail": {}}

# A clean interpreter importing only the handler's module, as Lambda does with the packaged Handler string.
SWEEPER_LAMBDA = """
import json, sys
from chalicelib.jobs import routes
counts = routes.sweep_jobs(json.loads(sys.argv[1]), None)
print(json.dumps({"counts": counts, "app_imported": "app" in sys.modules}))
"""


def _run_sweeper_lambda(emulators: LocalStack) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", SWEEPER_LAMBDA, json.dumps(SCHEDULED_EVENT)],
                         env=emulators.service_env(), cwd=REPO / "functions", capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.splitlines()[-1]))


def test_the_sweeper_lambda_binds_its_tables_without_app_py(emulators: LocalStack, client: Any,
                                                            make_operator: Any, enrol: Any) -> None:
    # given a claimed job whose lease has lapsed
    op: Operator = make_operator()
    host: FakeHost = enrol(op)
    [job_id] = queue_without_ringing(host.agent_id, op.user_id)
    assert client.http.post("/agent/v1/poll?wait=0", headers=host.headers, body="{}").json_body["jobs"]
    Job(job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])

    # when the scheduled sweeper runs as its own Lambda
    ran = _run_sweeper_lambda(emulators)

    # then it found this stage's tables and requeued the job, with app.py never imported
    assert ran["app_imported"] is False
    assert ran["counts"]["lapsed"] >= 1
    lapsed = Job.get(job_id, consistent_read=True)
    assert (lapsed.status, int(lapsed.attempt)) == ("queued", 1)
