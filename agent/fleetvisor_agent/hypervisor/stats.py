"""Domain statistics: one bulk libvirt call (virConnectGetAllDomainStats) read into plain counters per VM.

One call per sample for every VM on the host, not five per VM: the sampler
(metrics.py) turns two such readings into rates. Which groups are asked for:
state, total CPU time, vCPU count, balloon (memory), block and interface
counters. libvirt leaves out what a driver or a stopped VM cannot tell (the
test driver reports the state only; a shut-off VM has no counters): such a
field is None and the chart shows a gap, never a made-up zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libvirt

from .translate import state_name

GROUPS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_VCPU
          | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_INTERFACE)


@dataclass(frozen=True)
class Counters:
    """One VM's counters at one moment (cumulative ones as libvirt keeps them since the VM started)."""
    uuid: str
    name: str
    state: str
    vcpus: int | None
    cpu_time_ns: int | None
    memory_kib: int | None  # what the guest holds (balloon.current)
    memory_used_kib: int | None  # what it uses: the guest's own report if its balloon driver gives one, else QEMU's RSS
    disk_read_bytes: int | None
    disk_write_bytes: int | None
    net_rx_bytes: int | None
    net_tx_bytes: int | None


def read(conn: libvirt.virConnect) -> list[Counters]:
    """Every VM's counters now (raises libvirtError; the caller translates it)."""
    return [counters(domain.UUIDString(), domain.name(), record)
            for domain, record in conn.getAllDomainStats(GROUPS, 0)]


def counters(uuid: str, name: str, record: dict[str, Any]) -> Counters:
    """The counters in one getAllDomainStats record (its flat `group.index.field` names)."""
    return Counters(uuid=uuid, name=name, state=state_name(record.get("state.state", -1)),
                    vcpus=record.get("vcpu.current"), cpu_time_ns=record.get("cpu.time"),
                    memory_kib=record.get("balloon.current"), memory_used_kib=_memory_used(record),
                    disk_read_bytes=_total(record, "block", "rd.bytes"),
                    disk_write_bytes=_total(record, "block", "wr.bytes"),
                    net_rx_bytes=_total(record, "net", "rx.bytes"), net_tx_bytes=_total(record, "net", "tx.bytes"))


def _memory_used(record: dict[str, Any]) -> int | None:
    available, unused = record.get("balloon.available"), record.get("balloon.unused")
    if available is not None and unused is not None:
        return int(available) - int(unused)
    rss = record.get("balloon.rss")
    return None if rss is None else int(rss)


def _total(record: dict[str, Any], group: str, field: str) -> int | None:
    """The sum over a group's devices (`block.0.rd.bytes` + `block.1.rd.bytes` ...); None if it has none."""
    count = record.get(f"{group}.count")
    if not count:
        return None
    values = [record.get(f"{group}.{i}.{field}") for i in range(int(count))]
    known = [int(v) for v in values if v is not None]
    return sum(known) if known else None


def host_cpu(conn: libvirt.virConnect) -> tuple[int, int]:
    """The host's CPU time since boot, all CPUs: (busy, total) nanoseconds (busy: all but idle and iowait)."""
    times = conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS, 0)
    total = sum(int(v) for v in times.values())
    return total - int(times.get("idle", 0)) - int(times.get("iowait", 0)), total
