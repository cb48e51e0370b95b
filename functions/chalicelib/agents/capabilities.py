"""What a host may say about itself (capabilities, at enrolment and in each heartbeat), checked by type
and range like operator input.

An agent is not trusted to keep its owner's pages working: a compromised one
could report a number JSON cannot carry, a megabyte of text or a nested
structure for the web app to choke on. The fields the agent reports today
(`fleetvisor_agent.hypervisor.host._capabilities` and the heartbeat's
`waiting_on`, `hypervisor_available`, `hypervisor_error`, `hypervisor_message`,
and the metrics sampler's `cpu_used_percent`) each have a rule
below; a field this version does not know (a newer agent's) is kept when its
name is a plain lowercase word and its value a short scalar, since the web
app lists such values as they are. Anything else refuses the report (400),
and the stored capabilities stay as they were.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from .. import validate
from ..errors import Invalid

MAX_CAPABILITIES = 16 * 1024  # bytes of JSON
MAX_FIELDS = 64
MAX_NUMBER = 2**53  # what a JavaScript number holds exactly
FIELD_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
CODE_RE = validate.form(r"^[a-z][a-z0-9_]{0,63}\Z", "a lowercase code (letters, digits and '_', a letter first)")
Check = Callable[[dict[str, Any], str], Any]


def _text(max_len: int, pattern: re.Pattern[str] = validate.LABEL_RE) -> Check:
    return lambda body, name: validate.text(body, name, max_len=max_len, pattern=pattern, required=False)


def _count(high: int) -> Check:
    return lambda body, name: validate.integer(body, name, low=0, high=high)


def _one_of(*choices: str) -> Check:
    def check(body: dict[str, Any], name: str) -> str:
        if body[name] not in choices:
            raise Invalid(f"'{name}' must be one of {', '.join(choices)}.")
        return str(body[name])

    return check


def _percent(body: dict[str, Any], name: str) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise Invalid(f"'{name}' must be a number from 0 to 100.")
    return float(value)


KNOWN: dict[str, Check] = {
    "hostname": _text(253),
    "cpu_model": _text(200),
    "cpu_arch": _text(64),
    "cpu_count": _count(1 << 20),
    "cpu_mhz": _count(1_000_000),
    "memory_total_kib": _count(MAX_NUMBER),
    "memory_free_kib": _count(MAX_NUMBER),
    "cpu_used_percent": _percent,  # the host's CPU use over the agent's last metrics step (agent metrics.py)
    "libvirt_version": _text(64),
    "hypervisor": _text(64),
    "hypervisor_version": _text(64),
    "kvm_usable": validate.boolean,
    "serial_console": validate.boolean,  # whether its libvirt driver opens serial consoles (host.py)
    "agent_version": _text(64),
    "waiting_on": _one_of("queue", "api"),  # where the agent waits for work (runner.py)
    "hypervisor_available": validate.boolean,
    "hypervisor_error": _text(64, CODE_RE),  # a HypervisorError code when libvirt cannot be reached
    "hypervisor_message": _text(300),  # libvirt's own words then, e.g. polkit refusing the agent's user
}


def console_unavailable(capabilities: dict[str, Any]) -> str | None:
    """Why this host cannot open a serial console, in words; None when it can or may.

    Agents since `serial_console` say so themselves. An older one is judged by its hypervisor: libvirt's
    test driver has no consoles, and any other is given the benefit of the doubt (its agent reports a
    failure to open one as the console's closing reason)."""
    hypervisor = capabilities.get("hypervisor")
    says = capabilities.get("serial_console")
    if says is True or (says is None and str(hypervisor).upper() != "TEST"):
        return None
    driver = f" ({hypervisor})" if isinstance(hypervisor, str) else ""
    return f"This host's hypervisor{driver} cannot open a serial console."


def parse(body: dict[str, Any]) -> dict[str, Any]:
    """`body["capabilities"]` checked ({} when absent), or Invalid naming the first field that fails."""
    capabilities = validate.mapping(body, "capabilities", required=False)
    if len(capabilities) > MAX_FIELDS or len(json.dumps(capabilities)) > MAX_CAPABILITIES:
        raise Invalid(f"'capabilities' may hold at most {MAX_FIELDS} fields and {MAX_CAPABILITIES} bytes of JSON.")
    checked: dict[str, Any] = {}
    for name in capabilities:
        if not FIELD_NAME_RE.fullmatch(name):
            raise Invalid("Each capability must be named by a lowercase word (letters, digits, '_').")
        checked[name] = None if capabilities[name] is None \
            else KNOWN.get(name, _scalar)(capabilities, name)
    return checked


def _scalar(body: dict[str, Any], name: str) -> Any:
    """A field this version does not know: a short printable text, true/false, or a number."""
    value = body[name]
    if isinstance(value, str):
        return validate.text(body, name, max_len=200, pattern=validate.LABEL_RE, required=False)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) <= MAX_NUMBER:
        return value
    raise Invalid(f"Capability '{name}' must be a short text, true/false or a number within ±2^53.")
