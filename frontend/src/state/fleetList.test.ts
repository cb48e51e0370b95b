import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeFeed, feedCalls } from '../test/fakeFeed';
import { anAgent, aFleetVm } from '../test/fixtures';
import type { FleetVm } from '../types';
import { createFleetListStore, searchText, type FleetListApi } from './fleetList';

function uuidOf(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

/** `count` VMs on `hosts` hosts, by name as the server lists them. */
function fleetOf(count: number, hosts: number): FleetVm[] {
  return Array.from({ length: count }, (_, i) =>
    aFleetVm({
      uuid: uuidOf(i),
      name: `vm-${String(i).padStart(5, '0')}`,
      agent_id: `agt-${i % hosts}`,
      host_name: `rack-${i % hosts}`,
      state: i % 3 === 0 ? 'shutoff' : 'running',
      addresses: [`10.${Math.floor(i / 250)}.${i % 250}.1`],
      labels: i % 10 === 0 ? { tier: 'db' } : { tier: 'web' },
      vcpus: 1 + (i % 4),
    }),
  );
}

function fakeApi(vms: FleetVm[]) {
  const server = { vms, feed: fakeFeed(), agents: [anAgent({ agent_id: 'agt-0', name: 'rack-0', labels: { zone: 'north' } })] };
  const api = {
    listFleet: vi.fn(async (cursor?: string | null, limit?: number) => {
      const start = cursor ? Number(cursor) : 0;
      const end = start + (limit ?? 1000);
      return { items: server.vms.slice(start, end), next: end < server.vms.length ? String(end) : null };
    }),
    listAgents: vi.fn(async () => server.agents),
    ...feedCalls(server.feed),
  } satisfies FleetListApi;
  return { api, server };
}

describe('fleet list store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('loads the whole fleet in pages (a small first one), one query per page, not per host', async () => {
    const { api } = fakeApi(fleetOf(2500, 50));
    const store = createFleetListStore(api, { firstPage: 100 });
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    // The first page at once, and again after the feed's version (the full load).
    expect(api.listFleet.mock.calls.map(([cursor, limit]) => [cursor, limit])).toEqual([
      [null, 100],
      [null, 100],
      ['100', 1000],
      ['1100', 1000],
      ['2100', 1000],
    ]);
    const state = store.getState();
    expect(state.complete).toBe(true);
    expect(state.shown).toHaveLength(2500);
    store.stop();
  });

  it('searches name, host, state, address and labels, every word must match, in any case', async () => {
    const { api } = fakeApi(fleetOf(1000, 10));
    const store = createFleetListStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    const names = () => store.getState().shown.map((vm) => vm.name);
    store.search('VM-0004');
    expect(names()).toEqual(['vm-00040', 'vm-00041', 'vm-00042', 'vm-00043', 'vm-00044', 'vm-00045', 'vm-00046', 'vm-00047', 'vm-00048', 'vm-00049']);
    store.search('vm-0004 tier=db');
    expect(names()).toEqual(['vm-00040']);
    store.search('10.3.7.1');
    expect(names()).toEqual(['vm-00757']);
    store.search('rack-3 shutoff');
    expect(store.getState().shown.every((vm) => vm.host_name === 'rack-3' && vm.state === 'shutoff')).toBe(true);
    store.search('zone=north'); // the host's label
    expect(store.getState().shown.every((vm) => vm.agent_id === 'agt-0')).toBe(true);
    expect(store.getState().shown).toHaveLength(100);
    store.search('');
    expect(names()).toHaveLength(1000);
    store.stop();
  });

  it('filters by state and host, and sorts by any column both ways without a request', async () => {
    const { api } = fakeApi(fleetOf(100, 4));
    const store = createFleetListStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    const calls = api.listFleet.mock.calls.length;
    store.setFilters({ state: 'shutoff', agentId: 'agt-1' });
    expect(store.getState().shown.every((vm) => vm.state === 'shutoff' && vm.agent_id === 'agt-1')).toBe(true);
    store.setFilters({ state: '', agentId: '' });
    store.sortBy('vcpus');
    const vcpus = store.getState().shown.map((vm) => vm.vcpus);
    expect(vcpus).toEqual([...vcpus].sort((a, b) => a - b));
    store.sortBy('vcpus');
    expect(store.getState().sort).toEqual({ column: 'vcpus', descending: true });
    expect(store.getState().shown[0].vcpus).toBe(4);
    store.sortBy('name');
    expect(store.getState().shown[0].name).toBe('vm-00000');
    expect(api.listFleet.mock.calls.length).toBe(calls);
    store.stop();
  });

  it('reloads on a change in the feed and keeps the selection of VMs that still exist', async () => {
    const { api, server } = fakeApi(fleetOf(30, 3));
    const store = createFleetListStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    store.toggle('agt-0/' + uuidOf(0));
    store.toggle('agt-1/' + uuidOf(1));
    server.vms = server.vms.slice(1).map((vm) => (vm.name === 'vm-00001' ? { ...vm, state: 'paused' } : vm));
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(1500);
    expect(store.getState().shown).toHaveLength(29);
    expect(store.getState().shown[0].state).toBe('paused');
    expect([...store.getState().selected]).toEqual(['agt-1/' + uuidOf(1)]);
    store.stop();
  });

  it('a fleet bigger than the first page reloads at most every reloadGapMs, however often it changes', async () => {
    const { api, server } = fakeApi(fleetOf(300, 3));
    const store = createFleetListStore(api, { reloadGapMs: 10_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    const firstPages = () => api.listFleet.mock.calls.filter(([cursor]) => !cursor).length;
    expect(firstPages()).toBe(2); // the early first page, then the load after the version
    for (let i = 0; i < 5; i++) {
      server.feed.bump();
      await vi.advanceTimersByTimeAsync(1500);
    }
    expect(firstPages()).toBe(2); // 7.5 s: not yet
    await vi.advanceTimersByTimeAsync(3000);
    expect(firstPages()).toBe(3); // one reload for all five changes
    server.vms = server.vms.slice(0, 10);
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(11_500);
    expect(store.getState().total).toBe(10);
    server.vms = server.vms.slice(0, 5);
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(1500); // a fleet of one page reloads at once
    expect(store.getState().total).toBe(5);
    store.stop();
  });

  it('a keystroke over 10,000 VMs is a filter of precomputed strings', async () => {
    const { api } = fakeApi(fleetOf(10_000, 500));
    const store = createFleetListStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().total).toBe(10_000);
    const started = performance.now();
    for (const search of ['v', 'vm', 'vm-', 'vm-0', 'vm-00', 'vm-009', 'vm-0099']) store.search(search);
    expect(store.getState().shown).toHaveLength(10);
    // Generous for a shared CI machine; the browser benchmark measures the real figure.
    expect(performance.now() - started).toBeLessThan(500);
    store.stop();
  });
});

describe('searchText', () => {
  it('holds each field on its own line, so a word never spans two fields', () => {
    const text = searchText(aFleetVm({ name: 'Web', host_name: 'Rack', labels: { a: 'b' }, addresses: null }), { z: 'y' });
    expect(text.split('\n').slice(0, 5)).toEqual(['web', 'rack', 'shutoff', 'a=b', 'z=y']);
  });
});
