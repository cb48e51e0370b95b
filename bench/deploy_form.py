"""The Deploy page's generated form in Debian's Chromium against a local stack: how long choosing a
profile takes to draw its form (SchemaForm from the profile's JSON Schema: settings and sizing).

Measured for the built-in profile with the most inputs, and for a synthetic operator manifest with as
many inputs as the manifest schema allows (50, every input type, some shown only when another input
has a value), uploaded through POST /api/manifests like any operator's, to show how it scales.

Each render: the profile select goes back to "Choose…" (the form goes), then to the profile; timed from
that change event to the next task (Preact has rendered: the form is in the DOM) and to the frame after
it (requestAnimationFrame, then a task: style, layout and paint included; this one waits for the next
frame, so up to one frame interval, 16.7 ms, is waiting, not work). The first render of each profile is
reported alone (warm-up: code not yet optimised), the rest as median and p95.

    .venv/bin/python bench/deploy_form.py [--renders 40]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "functions")]

from bench.web_app import app_stack, browser_page, open_logged_in, percentile  # noqa: E402
from infra.local import LocalStack  # noqa: E402

SYNTHETIC_ID = "bench-50-inputs"
MAX_INPUTS = 50  # manifest-schema.json: inputs maxItems
# The inputs added to the synthetic profile, in turn (each a distinct name).
EXTRA_INPUTS: tuple[dict[str, Any], ...] = (
    {"type": "string", "min_length": 1, "max_length": 40, "pattern": "^[a-z][a-z0-9-]*$"},
    {"type": "integer", "min": 1, "max": 1000, "default": 10},
    {"type": "boolean", "default": True},
    {"type": "select", "options": [{"value": v, "label": v.title()} for v in ("small", "medium", "large")],
     "default": "small"},
    {"type": "email"},
    {"type": "port", "default": 8080},
    {"type": "size", "min": "1GiB", "max": "100GiB", "default": "10GiB"},
    {"type": "hostname"},
    {"type": "password", "min_length": 8},
)
RENDER_PROBE = """async ({ id, rounds }) => {
  const select = document.querySelector('[data-testid=deploy-form] select[name=profile]');
  const task = () => new Promise((resolve) => setTimeout(resolve, 0));
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const choose = (value) => { select.value = value; select.dispatchEvent(new Event('change', { bubbles: true })); };
  const built = [];
  const times = [];
  let fields = 0;
  for (let i = 0; i < rounds; i++) {
    choose('');
    await frame();
    const t0 = performance.now();
    choose(id);
    await task();
    built.push(performance.now() - t0);
    fields = document.querySelectorAll('[data-testid=deploy-form] [data-field]').length;
    await frame();
    times.push(performance.now() - t0);
  }
  return { built, times, fields };
}"""


def synthetic_manifest() -> str:
    """ubuntu-24.04 under another id, its inputs topped up to the schema's maximum with every type."""
    doc = yaml.safe_load((REPO / "functions/chalicelib/deployments/builtin/ubuntu-24.04.yaml").read_text())
    doc.update(id=SYNTHETIC_ID, title="Bench: 50 inputs", version=1)
    for n in range(MAX_INPUTS - len(doc["inputs"])):
        extra = {"name": f"extra_{n:02d}", "label": f"Extra setting {n}", "help": "An input for the benchmark.",
                 **copy.deepcopy(EXTRA_INPUTS[n % len(EXTRA_INPUTS)])}  # shared lists would dump as aliases
        if n % len(EXTRA_INPUTS) == 3:  # each select is shown while the boolean before it is ticked (it is)
            extra["visible_if"] = {"input": f"extra_{n - 1:02d}", "equals": True}
        doc["inputs"].append(extra)
    return yaml.safe_dump(doc, sort_keys=False)


def inputs_of(profile: dict[str, Any]) -> int:
    return len(profile["inputs_schema"]["properties"]) + len((profile.get("sizing_schema") or {}).get("properties", {}))


def prepare(stack: LocalStack) -> list[dict[str, Any]]:
    """Uploads the synthetic manifest; the profiles to measure: the largest built-in, then the synthetic."""
    headers = {"Authorization": f"Bearer {stack.login()}"}
    upload = requests.post(f"{stack.url}/api/manifests", headers=headers, json={"manifest": synthetic_manifest()},
                           timeout=30)
    if upload.status_code != 201:
        raise SystemExit(f"the synthetic manifest was refused: {json.dumps(upload.json())[:2000]}")
    profiles = requests.get(f"{stack.url}/api/profiles", headers=headers, timeout=30).json()["profiles"]
    largest = max((p for p in profiles if p["builtin"]), key=inputs_of)
    return [largest, next(p for p in profiles if p["id"] == SYNTHETIC_ID)]


def measure(stack: LocalStack, profiles: list[dict[str, Any]], renders: int) -> list[dict[str, Any]]:
    from playwright.sync_api import expect  # noqa: PLC0415

    with browser_page() as page:
        open_logged_in(page, stack, "/deploy")
        select = page.locator("[data-testid=deploy-form] select[name=profile]")
        for profile in profiles:
            expect(select.locator(f"option[value='{profile['id']}']")).to_have_count(1, timeout=30_000)
        return [page.evaluate(RENDER_PROBE, {"id": p["id"], "rounds": renders + 1}) for p in profiles]


def report(profiles: list[dict[str, Any]], figures: list[dict[str, Any]], renders: int) -> None:
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"Deploy page form render in Chromium ({renders} renders each after one warm-up; load average {load} "
          f"on {os.cpu_count()} cores)")
    for profile, measured in zip(profiles, figures, strict=True):
        what = "largest built-in" if profile["builtin"] else "operator manifest"
        hidden = inputs_of(profile) - measured["fields"]
        print(f"  {profile['id']} ({what}): {inputs_of(profile)} inputs with sizing, {measured['fields']} fields "
              f"drawn" + (f" ({hidden} hidden by visible_if)" if hidden else ""))
        for label, key in (("form built (DOM, next task)", "built"), ("on screen (next frame painted)", "times")):
            first, times = measured[key][0], measured[key][1:]
            print(f"    {label:<32} median {statistics.median(times):5.1f} ms   p95 {percentile(times, 95):5.1f} ms"
                  f"   first {first:5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=40)
    args = parser.parse_args()
    with app_stack() as stack:
        profiles = prepare(stack)
        figures = measure(stack, profiles, args.renders)
    report(profiles, figures, args.renders)


if __name__ == "__main__":
    main()
