"""vm.detail and host.capabilities: reading, for the operator, what the host and one VM look like."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..hypervisor.guest import Guest
from ..hypervisor.host import Host
from ..verify import VerifiedJob
from .base import VM_ONLY, ArgsSchema, Outcome, Result, run_on_host, run_on_vm

OPS: Mapping[str, ArgsSchema] = {
    "vm.detail": VM_ONLY,
    "host.capabilities": ArgsSchema({}),
}


def handle(job: VerifiedJob, host: Host) -> Result:
    if job.op == "host.capabilities":
        return run_on_host(job, host, _capabilities)
    return run_on_vm(job, host, _detail)


def _detail(guest: Guest, _args: Mapping[str, Any]) -> Outcome:
    detail = guest.detail()
    return Outcome(data=detail, summary=f"VM {guest.name!r} is {detail['state']} ({detail['state_reason']}); "
                                        f"{_count(detail['disks'], 'disk')}, {_count(detail['nics'], 'NIC')}.")


def _capabilities(host: Host) -> Outcome:
    caps = host.full_capabilities()
    return Outcome(data=caps, summary=f"{caps['hypervisor']} {caps['hypervisor_version']} on libvirt "
                                      f"{caps['libvirt_version']}; {caps['cpu_count']} CPUs, "
                                      f"{_count(caps['storage_pools'], 'storage pool')}, "
                                      f"{_count(caps['networks'], 'network')}.")


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
