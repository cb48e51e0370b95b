"""Run inside a Lambda-style process (infra/lambda_style.py starts it): stdlib only.

Started as `python -I -S lambda_runner.py PACKAGE_DIR`: no site-packages, only
the unzipped deployment.zip on sys.path, as Lambda's Python runtime has it.
Reads one JSON command per line on stdin and answers one JSON line on stdout:

    {"invoke": "app.app", "event": {...}}   the handler's answer (or {"error": traceback})
    {"probe": true}                          where boto3 and botocore came from, and peak RSS (KiB, VmHWM)

Logging goes to stderr, as Lambda sends it to CloudWatch.
"""

import importlib
import json
import logging
import resource
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The parts of Lambda's context object that Chalice reads."""

    def __init__(self, name: str, memory: str, timeout: int) -> None:
        self.function_name = name
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def peak_rss_kib() -> int:
    """This interpreter's own peak RSS. Not getrusage's ru_maxrss: Linux carries the high-water mark
    of the process that exec'd us into it (a vfork'd child of a 200 MB pytest reports 200 MB)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def handler(spec: str) -> Any:
    module, _, attribute = spec.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def answer(command: dict[str, Any]) -> dict[str, Any]:
    if command.get("probe"):
        import boto3  # noqa: PLC0415
        import botocore  # noqa: PLC0415
        return {"boto3": boto3.__file__, "boto3_version": boto3.__version__, "botocore": botocore.__file__,
                "maxrss_kib": peak_rss_kib(), "sys_path": sys.path}
    started = time.perf_counter()
    fn = handler(command["invoke"])
    imported = time.perf_counter()
    result = fn(command["event"], Context(command.get("name", "fn"), command.get("memory", "512"), 30))
    return {"result": result, "import_s": imported - started, "call_s": time.perf_counter() - imported}


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    # Chalice logs to stdout; on Lambda both streams are the log, here stdout is the answers' pipe.
    answers, sys.stdout = sys.stdout, sys.stderr
    for line in sys.stdin:
        try:
            out = answer(json.loads(line))
        except Exception:  # noqa: BLE001 - reported to the driver, as Lambda reports an invocation error
            out = {"error": traceback.format_exc()}
        answers.write(json.dumps(out, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
