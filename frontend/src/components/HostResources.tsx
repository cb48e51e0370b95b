// A host's own use and resources, on its card: CPU and memory in use (from
// its heartbeats: the agent measures its CPU each metrics step, libvirt
// reports free memory), and, on request, its storage pools (capacity, free)
// and networks, read by a host.capabilities job.

import { useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { formatBytes, formatMemory } from '../format';
import type { Agent } from '../types';
import { FormError } from './FormError';

interface Pool {
  name?: string;
  state?: string;
  capacity_bytes?: number;
  available_bytes?: number;
}

interface Network {
  name?: string;
  active?: boolean;
  bridge?: string | null;
}

function numberAt(record: Record<string, unknown> | null | undefined, key: string): number | null {
  const value = record?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function HostUsage({ agent }: { agent: Agent }) {
  const caps = agent.capabilities as Record<string, unknown> | null | undefined;
  const cpu = numberAt(caps, 'cpu_used_percent');
  const total = numberAt(caps, 'memory_total_kib');
  const free = numberAt(caps, 'memory_free_kib');
  if (cpu === null && (total === null || free === null)) return null;
  return (
    <dl class="facts" data-testid="host-usage">
      {cpu !== null && (
        <div>
          <dt>CPU in use</dt>
          <dd data-testid="host-cpu-used">{cpu.toFixed(1)} %</dd>
        </div>
      )}
      {total !== null && free !== null && (
        <div>
          <dt>Memory in use</dt>
          <dd data-testid="host-memory-used">
            {formatMemory(Math.max(0, total - free))} of {formatMemory(total)}
          </dd>
        </div>
      )}
    </dl>
  );
}

function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function Resources({ pools, networks }: { pools: Pool[]; networks: Network[] }) {
  const size = (bytes: number | undefined) => (typeof bytes === 'number' ? formatBytes(bytes) : '—');
  return (
    <div data-testid="host-resources">
      <h4>Storage pools</h4>
      {pools.length === 0 ? (
        <p class="muted">No storage pools.</p>
      ) : (
        <ul>
          {pools.map((pool, i) => (
            <li key={i} data-testid="host-pool" data-pool={pool.name}>
              {pool.name ?? '—'} · {pool.state ?? 'unknown'} · {size(pool.available_bytes)} free of {size(pool.capacity_bytes)}
            </li>
          ))}
        </ul>
      )}
      <h4>Networks</h4>
      {networks.length === 0 ? (
        <p class="muted">No networks.</p>
      ) : (
        <ul>
          {networks.map((network, i) => (
            <li key={i} data-testid="host-network">
              {network.name ?? '—'} · {network.active ? 'active' : 'inactive'}
              {network.bridge ? ` · ${network.bridge}` : ''}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function HostResources({ agentId, read }: { agentId: string; read: (agentId: string) => Promise<unknown> }) {
  const [found, setFound] = useState<{ pools: Pool[]; networks: Network[] } | null>(null);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);

  async function load(): Promise<void> {
    setLoading(true);
    setError('');
    try {
      const data = (await read(agentId)) as Record<string, unknown> | null;
      setFound({ pools: list<Pool>(data?.storage_pools), networks: list<Network>(data?.networks) });
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setLoading(false);
    }
  }

  return (
    <div class="host-resources">
      <button type="button" data-action="host-resources" disabled={loading} onClick={() => void load()}>
        {loading ? 'Reading pools and networks…' : 'Pools and networks'}
      </button>
      <FormError message={error} />
      {found && <Resources pools={found.pools} networks={found.networks} />}
    </div>
  );
}
