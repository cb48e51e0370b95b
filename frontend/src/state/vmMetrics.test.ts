import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { fakeVisibility } from '../test/fakeVisibility';
import { emptySeries, type LiveMetrics, type MetricsRange, type VmMetrics } from '../vmMetrics';
import { createVmMetricsStore, type MetricsApi } from './vmMetrics';

const AGENT = 'ag_' + '1'.repeat(32);
const VM_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';

function answer(range: MetricsRange): VmMetrics {
  return { ...emptySeries(), t: [1], cpu: [range === 'hour' ? 1 : 2], memory: [1], memory_used: [1], disk_read: [1],
    disk_write: [1], net_rx: [1], net_tx: [1], vm_uuid: VM_UUID, range, from: 0, to: 1, step: 60, objects: 1, skipped: 0 };
}

function fakeApi() {
  const calls: string[] = [];
  const live: LiveMetrics = { vm_uuid: VM_UUID, step: 5, live: emptySeries(), pending: emptySeries() };
  const api: MetricsApi = {
    vmMetrics: vi.fn(async (_a: string, _v: string, range: MetricsRange) => {
      calls.push(`series:${range}`);
      return answer(range);
    }),
    watchVmMetrics: vi.fn(async () => {
      calls.push('watch');
      return { live: { url: 'https://bucket/live?sig', step: 5 }, until: 1_800_000_090 };
    }),
    readLiveMetrics: vi.fn(async (url: string) => {
      calls.push(`live:${url}`);
      return live;
    }),
  };
  return { api, calls, live };
}

describe('VM metrics store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('loads the series, asks the host for live samples and reads them while visible', async () => {
    const { api, calls, live } = fakeApi();
    const store = createVmMetricsStore(api, AGENT, VM_UUID, { visibility: fakeVisibility() });
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.sort()).toEqual(['series:hour', 'watch']); // no URL to read yet
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls.filter((c) => c.startsWith('live:'))).toEqual(['live:https://bucket/live?sig']);
    expect(store.getState()).toMatchObject({ answer: answer('hour'), live, liveUntil: 1_800_000_090, error: '' });
    await vi.advanceTimersByTimeAsync(40_000);
    expect(calls.filter((c) => c === 'watch')).toHaveLength(2); // asked again each minute
    expect(calls.filter((c) => c === 'series:hour')).toHaveLength(1); // the batches change hourly
    await vi.advanceTimersByTimeAsync(240_000);
    expect(calls.filter((c) => c === 'series:hour')).toHaveLength(2);
    store.stop();
  });

  it('asks nothing while hidden and resumes when shown', async () => {
    const { api, calls } = fakeApi();
    const tab = fakeVisibility(true);
    const store = createVmMetricsStore(api, AGENT, VM_UUID, { visibility: tab });
    store.start();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(calls).toEqual([]);
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.sort()).toEqual(['series:hour', 'watch']);
    tab.set(true);
    calls.length = 0;
    await vi.advanceTimersByTimeAsync(300_000);
    expect(calls).toEqual([]);
    store.stop();
    expect(tab.listening()).toBe(0);
  });

  it('fetches the new range at once and drops a late answer for the old one', async () => {
    const { api } = fakeApi();
    let release: (value: VmMetrics) => void = () => {};
    vi.mocked(api.vmMetrics).mockImplementationOnce(() => new Promise((resolve) => (release = resolve)));
    const store = createVmMetricsStore(api, AGENT, VM_UUID, { visibility: fakeVisibility() });
    store.start();
    store.setRange('week');
    await vi.advanceTimersByTimeAsync(0);
    release(answer('hour'));
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().range).toBe('week');
    expect(store.getState().answer?.range).toBe('week');
    store.stop();
  });

  it('shows a refused series read and keeps the charts going on a failed live ask', async () => {
    const { api } = fakeApi();
    vi.mocked(api.vmMetrics).mockRejectedValueOnce(new ApiError(404, 'vm_not_found', 'No VM here.'));
    vi.mocked(api.watchVmMetrics).mockRejectedValueOnce(new ApiError(503, 'unavailable', 'Busy.'));
    const store = createVmMetricsStore(api, AGENT, VM_UUID, { visibility: fakeVisibility() });
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState()).toMatchObject({ error: 'No VM here.', liveUntil: null });
    await vi.advanceTimersByTimeAsync(300_000);
    expect(store.getState()).toMatchObject({ error: '', liveUntil: 1_800_000_090 });
    store.stop();
  });
});
