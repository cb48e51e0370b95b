import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { aJob, anAgent, aVm } from '../test/fixtures';
import type { Job, VM } from '../types';
import { createFleetStore, mergeJobs, vmKey, type FleetApi } from './fleet';

/** An API whose answers the test changes as the "server" moves on. */
function fakeApi() {
  const server = { vms: [aVm({ state: 'shutoff' })] as VM[], job: aJob() as Job };
  const api = {
    listAgents: vi.fn(async () => [anAgent()]),
    listVms: vi.fn(async () => server.vms),
    listJobs: vi.fn(async () => [] as Job[]),
    getJob: vi.fn(async () => server.job),
    vmAction: vi.fn(async () => server.job),
  } satisfies FleetApi;
  return { api, server };
}

describe('fleet store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('loads hosts, their VMs and jobs on start, then every 5 s', async () => {
    const { api } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);

    expect(store.getState().agents.map((a) => a.name)).toEqual(['hv1']);
    expect(store.getState().vms['agt-1'].map((v) => v.name)).toEqual(['web1']);
    expect(api.listJobs).toHaveBeenCalledWith(20);

    await vi.advanceTimersByTimeAsync(5000);
    expect(api.listAgents).toHaveBeenCalledTimes(2);
    expect(api.listVms).toHaveBeenCalledTimes(2);
    store.stop();
  });

  it('polls a started job until final, then refetches its host VMs at once', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    const vmFetches = api.listVms.mock.calls.length;

    await store.runAction('agt-1', aVm().uuid, 'start');
    expect(api.vmAction).toHaveBeenCalledWith('agt-1', aVm().uuid, 'start');
    expect(store.watching()).toBe(1);

    server.job = aJob({ status: 'running', attempt: 1 });
    await vi.advanceTimersByTimeAsync(250);
    expect(store.getState().jobs[0].status).toBe('running');
    expect(api.listVms).toHaveBeenCalledTimes(vmFetches);

    server.job = aJob({ status: 'succeeded', attempt: 1, exit_code: 0 });
    server.vms = [aVm({ state: 'running' })];
    await vi.advanceTimersByTimeAsync(250);
    expect(api.listVms).toHaveBeenCalledTimes(vmFetches + 1);
    expect(store.getState().vms['agt-1'][0].state).toBe('running');
    expect(store.getState().jobs[0].status).toBe('succeeded');
    expect(store.watching()).toBe(0);

    const jobPolls = api.getJob.mock.calls.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.getJob).toHaveBeenCalledTimes(jobPolls);
    store.stop();
  });

  it('shows why an action was refused, on that VM', async () => {
    const { api } = fakeApi();
    api.vmAction.mockRejectedValueOnce(new ApiError(400, 'invalid_action', 'The VM is not running.'));
    const store = createFleetStore(api);

    await store.runAction('agt-1', aVm().uuid, 'reboot');
    expect(store.getState().actionErrors[vmKey('agt-1', aVm().uuid)]).toBe('The VM is not running.');
    expect(store.watching()).toBe(0);
  });

  it('stops every poll on stop()', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await store.runAction('agt-1', aVm().uuid, 'start');
    server.job = aJob({ status: 'running', attempt: 1 });
    await vi.advanceTimersByTimeAsync(0);

    store.stop();
    const counts = [api.listAgents, api.getJob, api.listJobs].map((fn) => fn.mock.calls.length);
    await vi.advanceTimersByTimeAsync(30_000);
    expect([api.listAgents, api.getJob, api.listJobs].map((fn) => fn.mock.calls.length)).toEqual(counts);
    expect(store.watching()).toBe(0);
  });
});

describe('mergeJobs', () => {
  it('keeps a final status seen by a job poll over an older list entry', () => {
    const known = [aJob({ status: 'succeeded', attempt: 1 })];
    const incoming = [aJob({ status: 'running', attempt: 1 })];
    expect(mergeJobs(known, incoming, 20)[0].status).toBe('succeeded');
  });

  it('takes a retry (a later attempt) from the server', () => {
    const known = [aJob({ status: 'running', attempt: 1 })];
    const incoming = [aJob({ status: 'queued', attempt: 2 })];
    expect(mergeJobs(known, incoming, 20)[0]).toMatchObject({ status: 'queued', attempt: 2 });
  });

  it('keeps the newest jobs first, up to the limit', () => {
    const jobs = [1, 3, 2].map((n) => aJob({ job_id: `j${n}`, created_ms: n }));
    expect(mergeJobs([], jobs, 2).map((j) => j.job_id)).toEqual(['j3', 'j2']);
  });
});
