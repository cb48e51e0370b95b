"""The fault stack shared by the fault tests: a local stack of its own whose leases last 6 s (a claim
not acknowledged by the agent, 2 s), whose
sweeper runs every second (a lapsed lease is noticed within seconds) and whose keyrings are cached for
one second (a rotation step is seen at once), with the agent behind two fault
proxies (tcp_proxy.py): one in front of the API, one in front of S3 (moto), which the presigned upload
URLs name (FLEETVISOR_S3_PUBLIC_ENDPOINT). Both pass bytes untouched unless a test says otherwise, and
every test that breaks the network heals it before it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from infra.local import LocalStack, StackConfig, free_port
from tests.conftest import ADMIN_PASSWORD

from .tcp_proxy import TcpProxy

FAULT_LEASE_SECONDS = 6
FAULT_CLAIM_ACK_SECONDS = 2


@dataclass
class Proxies:
    api: TcpProxy  # agent ↔ API
    s3: TcpProxy  # agent ↔ S3 (HTTP-aware: it can answer a PUT "Request has expired")

    def heal(self) -> None:
        self.api.passing()
        self.s3.passing()


@pytest.fixture(scope="session")
def proxies() -> Iterator[Proxies]:
    made = Proxies(api=TcpProxy(), s3=TcpProxy(http=True))
    yield made
    made.api.close()
    made.s3.close()


@pytest.fixture(scope="session")
def faulty(tmp_path_factory: pytest.TempPathFactory, proxies: Proxies) -> Iterator[LocalStack]:
    config = StackConfig(root=tmp_path_factory.mktemp("faults"), api_port=free_port(), spa_dir=None,
                         admin_password=ADMIN_PASSWORD, agent_name="fault-host", agent_url=proxies.api.url,
                         # Polls of 5 s: a poll the API stops answering is given up after 5 + 10 s.
                         # Heartbeats every 2 s bring key announcements quickly.
                         agent_env={"FLEETVISOR_AGENT_POLL_WAIT": "5", "FLEETVISOR_AGENT_HEARTBEAT_SECONDS": "2"},
                         extra_api_env={"FLEETVISOR_LEASE_SECONDS": str(FAULT_LEASE_SECONDS),
                                        "FLEETVISOR_CLAIM_ACK_SECONDS": str(FAULT_CLAIM_ACK_SECONDS),
                                        "FLEETVISOR_SWEEP_SECONDS": "1",
                                        "FLEETVISOR_KEY_CACHE_SECONDS": "1",
                                        "FLEETVISOR_S3_PUBLIC_ENDPOINT": proxies.s3.url,
                                        # These faults are the API long poll's (what agents fall back to,
                                        # and what older agents use): no doorbell queue for this stack's agents.
                                        "FLEETVISOR_DOORBELL_ROLE_ARN": ""})
    stack = LocalStack(config)
    proxies.api.upstream_port = config.api_port
    proxies.s3.upstream_port = stack.moto_port
    with stack:
        stack.wait_for_agents(1)
        yield stack
