// A VM's details, read by a vm.detail job: disks, NICs, IPs and uptime.

import { useEffect, useState } from 'preact/hooks';
import { formatBytes, formatDuration } from '../format';
import type { VmOps } from '../state/fleet';
import { useMounted } from '../state/useMounted';
import type { VM, VmDetail } from '../types';

interface Props {
  agentId: string;
  vm: VM;
  ops: VmOps;
  /** Read the details at once (the VM's own page), not only on a click. */
  auto?: boolean;
}

function list<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function DetailView({ detail }: { detail: VmDetail }) {
  const disks = list(detail.disks);
  const nics = list(detail.nics);
  const ips = list(detail.ips);
  const uptime = typeof detail.uptime_seconds === 'number' ? formatDuration(detail.uptime_seconds) : 'not running';
  return (
    <div class="vm-detail" data-testid="vm-detail">
      <p>
        Uptime: <span data-testid="vm-uptime">{uptime}</span>
      </p>
      <h4>Disks</h4>
      {disks.length === 0 ? (
        <p class="muted">No disks.</p>
      ) : (
        <ul>
          {disks.map((disk, i) => (
            <li key={i} data-testid="vm-disk">
              {disk.target ?? '—'} · {typeof disk.capacity_bytes === 'number' ? formatBytes(disk.capacity_bytes) : 'size unknown'}
              {disk.source ? ` · ${disk.source}` : ''}
            </li>
          ))}
        </ul>
      )}
      <h4>Network interfaces</h4>
      {nics.length === 0 ? (
        <p class="muted">No network interfaces.</p>
      ) : (
        <ul>
          {nics.map((nic, i) => (
            <li key={i} data-testid="vm-nic">
              {nic.mac ?? '—'} · {nic.network ?? nic.bridge ?? '—'}
            </li>
          ))}
        </ul>
      )}
      <h4>IP addresses</h4>
      {ips.length === 0 ? (
        <p class="muted">None known (needs the guest agent or a DHCP lease).</p>
      ) : (
        <ul>
          {ips.map((ip, i) => (
            <li key={i} data-testid="vm-ip">
              {ip.address}
              {typeof ip.prefix === 'number' ? `/${ip.prefix}` : ''}
              {ip.interface ? ` (${ip.interface})` : ''}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function VmDetailPanel({ agentId, vm, ops, auto = false }: Props) {
  const [detail, setDetail] = useState<VmDetail | null>(null);
  const [loading, setLoading] = useState(false);
  const mounted = useMounted();

  async function load() {
    setLoading(true);
    const data = await ops.readResult(agentId, vm.uuid, { action: 'detail' });
    if (!mounted.current) return;
    setLoading(false);
    if (data !== null && typeof data === 'object') setDetail(data as VmDetail);
  }

  useEffect(() => {
    if (auto) void load();
  }, [auto, agentId, vm.uuid]);

  return (
    <div class="vm-detail-panel">
      <button type="button" data-action="detail" aria-label={`Details of ${vm.name}`} disabled={loading} onClick={load}>
        {loading ? 'Reading details…' : 'Details'}
      </button>
      {detail !== null && <DetailView detail={detail} />}
    </div>
  );
}
