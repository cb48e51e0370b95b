// The fake API's host and VM statistics: a host.capabilities job (done at
// once, one pool and one network), a VM series per range (cpu 42.5 % a minute ago,
// the range's step), and live asks, which this server cannot serve (as a
// host waiting in the API: `live: null`). `state.metricsAsked` lists the
// ranges read and `state.liveAsks` counts the asks.

import { emptySeries, type MetricsRange, type VmMetrics } from '../vmMetrics';
import type { FakeServerState } from './fakeServer';
import { fail, ok, type FakeRequest, type Route } from './fakeHttp';
import { aJob } from './fixtures';

const STEPS: Record<MetricsRange, number> = { hour: 60, day: 240, week: 1680 };

export function metricsRoutes(state: FakeServerState): Route[] {
  function series(request: FakeRequest): Response {
    const range = (request.query.get('range') ?? 'hour') as MetricsRange;
    if (!(range in STEPS)) return fail(400, 'invalid_range', "'range' must be one of hour, day, week.");
    state.metricsAsked.push(range);
    const now = Math.floor(Date.now() / 1000);
    const answer: VmMetrics = {
      ...emptySeries(),
      t: [now - 120, now - 60],
      cpu: [null, range === 'hour' ? 42.5 : 12],
      memory: [2097152, 2097152],
      memory_used: [1048576, 1048576],
      disk_read: [0, 2048],
      disk_write: [0, 0],
      net_rx: [null, null],
      net_tx: [null, null],
      vm_uuid: request.params[1],
      range,
      from: now - 3600,
      to: now,
      step: STEPS[range],
      objects: 1,
      skipped: 0,
    };
    return ok(answer);
  }

  /** A host.capabilities job, already done, with one pool and one network in its result. */
  function capabilities({ params }: FakeRequest): Response {
    const job = aJob({ job_id: `job-${state.jobs.length + 1}`, agent_id: params[0], op: 'host.capabilities',
      vm_uuid: null, args: {}, status: 'succeeded', summary: 'ok' });
    state.jobs.unshift(job);
    state.results.set(job.job_id, { job_id: job.job_id, attempt: 1, op: job.op, ok: true, vm: null, error: null,
      duration_ms: 5, data: { storage_pools: [{ name: 'default', state: 'running', capacity_bytes: 10 * 2 ** 30,
        available_bytes: 4 * 2 ** 30 }], networks: [{ name: 'default', active: true, bridge: 'virbr0' }] } });
    return ok(job, 202);
  }

  return [
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/capabilities$/, handle: capabilities },
    { method: 'GET', pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)\/metrics$/, handle: series },
    {
      method: 'POST',
      pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)\/metrics\/live$/,
      handle: () => {
        state.liveAsks += 1;
        return ok({ live: null, until: null });
      },
    },
  ];
}
