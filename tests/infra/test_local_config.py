"""`make up`'s environment reaches the API: the public addresses hosts elsewhere use, and nothing else of ours.

A host that does not share this machine's loopback (a QEMU guest reaches it as 10.0.2.2) needs the API's
address in its install script and S3's in its presigned upload URLs (issue 19).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import requests

from infra.local import LocalStack, config_from_environment, free_port


def test_the_public_addresses_given_to_make_up_reach_the_api_and_other_settings_do_not(tmp_path: Path) -> None:
    port, moto = free_port(), free_port()
    config = config_from_environment({
        "FLEETVISOR_HOME": str(tmp_path), "FLEETVISOR_PORT": str(port), "FLEETVISOR_MOTO_PORT": str(moto),
        "FLEETVISOR_PUBLIC_URL": f"http://10.0.2.2:{port}",
        "FLEETVISOR_S3_PUBLIC_ENDPOINT": f"http://10.0.2.2:{moto}",
        "FLEETVISOR_SIGNUP": "1"})
    assert config.root == tmp_path and config.api_port == port
    with LocalStack(dataclasses.replace(config, spa_dir=None, start_agent=False)) as stack:
        assert stack.moto_port == moto
        env = stack.service_env()
        assert env["FLEETVISOR_PUBLIC_URL"] == f"http://10.0.2.2:{port}"
        assert "FLEETVISOR_SIGNUP" not in env
        script = requests.get(f"{stack.url}/agent/install.sh", timeout=10)
        assert f"readonly CONTROL_PLANE_URL='http://10.0.2.2:{port}'" in script.text
        # The web app's CSP lets the browser reach S3 where the presigned URLs point.
        page = requests.get(f"{stack.url}/agent/install.sh", timeout=10)
        assert f"http://10.0.2.2:{moto}" in page.headers.get("Content-Security-Policy", ""), page.headers


def test_without_them_nothing_is_added() -> None:
    config = config_from_environment({"FLEETVISOR_S3_PUBLIC_ENDPOINT": ""})
    assert config.extra_api_env == {} and config.moto_port is None and config.api_port == 8000
