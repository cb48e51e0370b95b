import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type JobFilter } from '../api';
import { aJob, anAgent, aVm } from '../test/fixtures';
import type { Agent, Job } from '../types';
import { createJobsStore, freshestJobs, type JobsApi } from './jobs';

/** An API whose job list the test changes as the "server" moves on. */
function fakeApi() {
  const server = { jobs: [] as Job[], agents: [anAgent()] as Agent[] };
  const api = {
    listJobs: vi.fn(async (_limit?: number, _filter?: JobFilter) => server.jobs),
    cancelJob: vi.fn(async (jobId: string) => ({
      ...server.jobs.find((j) => j.job_id === jobId)!,
      cancel_requested: true,
    })),
    listAgents: vi.fn(async () => server.agents),
    listVms: vi.fn(async (_agentId: string) => [aVm()]),
  } satisfies JobsApi;
  return { api, server };
}

const running = (over: Partial<Job> = {}) => aJob({ status: 'running', attempt: 1, ...over });
const done = (over: Partial<Job> = {}) => aJob({ status: 'succeeded', attempt: 1, exit_code: 0, ...over });

describe('jobs store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks for 50 jobs, then again every second while one is not final', async () => {
    const { api, server } = fakeApi();
    server.jobs = [running(), done({ job_id: 'job-2' })];
    const store = createJobsStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listJobs).toHaveBeenCalledExactlyOnceWith(50, {});

    await vi.advanceTimersByTimeAsync(1000);
    expect(api.listJobs).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.listJobs).toHaveBeenCalledTimes(3);
    store.stop();
  });

  it('slows to every 10 s once every listed job is final', async () => {
    const { api, server } = fakeApi();
    server.jobs = [running()];
    const store = createJobsStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);

    server.jobs = [done()];
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.getState().jobs[0].status).toBe('succeeded');
    const calls = api.listJobs.mock.calls.length;
    await vi.advanceTimersByTimeAsync(9999);
    expect(api.listJobs).toHaveBeenCalledTimes(calls);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.listJobs).toHaveBeenCalledTimes(calls + 1);
    store.stop();
  });

  it('fetches a new filter at once and drops an answer for the old one', async () => {
    const { api } = fakeApi();
    let answer: (jobs: Job[]) => void = () => {};
    api.listJobs.mockImplementationOnce(() => new Promise<Job[]>((resolve) => (answer = resolve)));
    api.listJobs.mockResolvedValueOnce([done({ job_id: 'job-9', agent_id: 'agt-1', status: 'failed' })]);
    const store = createJobsStore(api);
    store.start();

    const filter = { agentId: 'agt-1', status: 'failed' as const };
    store.setFilter(filter);
    answer([running({ job_id: 'job-old' })]); // the unfiltered list, late
    await vi.advanceTimersByTimeAsync(0);

    expect(api.listJobs).toHaveBeenLastCalledWith(50, filter);
    expect(store.getState().jobs.map((j) => j.job_id)).toEqual(['job-9']);
    expect(store.getState().filter).toBe(filter);
    store.stop();
  });

  it('shows a cancelled-while-running job as asked to cancel, even after a list sent before the cancel', async () => {
    const { api, server } = fakeApi();
    server.jobs = [running()];
    let answer: (jobs: Job[]) => void = () => {};
    const store = createJobsStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    api.listJobs.mockImplementationOnce(() => new Promise<Job[]>((resolve) => (answer = resolve)));
    await vi.advanceTimersByTimeAsync(1000); // a list request is in flight

    await store.cancel('job-1');
    expect(store.getState().jobs[0].cancel_requested).toBe(true);
    answer([running()]); // sent before the cancel
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().jobs[0].cancel_requested).toBe(true);
    store.stop();
  });

  it('shows why a cancel was refused on that job, and fetches the list again for a final one', async () => {
    const { api, server } = fakeApi();
    server.jobs = [running()];
    const store = createJobsStore(api, { liveMs: 60_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    server.jobs = [done()];
    api.cancelJob.mockRejectedValueOnce(new ApiError(409, 'job_final', 'The job has already ended (succeeded).'));

    await store.cancel('job-1');
    await vi.advanceTimersByTimeAsync(0);

    expect(store.getState().rowErrors['job-1']).toBe('The job has already ended (succeeded).');
    expect(store.getState().jobs[0].status).toBe('succeeded');
    expect(store.getState().cancelling).toEqual({});
    store.stop();
  });

  it("learns VM names from each approved host's VMs, once, and never asks a pending host", async () => {
    const { api, server } = fakeApi();
    server.agents = [anAgent(), anAgent({ agent_id: 'agt-2', approval: 'pending', status: 'pending' })];
    server.jobs = [running(), running({ job_id: 'job-2', agent_id: 'agt-2' })];
    const store = createJobsStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(3000);

    expect(store.getState().vmNames.get(aVm().uuid)).toBe('web1');
    expect(api.listVms.mock.calls).toEqual([['agt-1']]);
    store.stop();
  });

  it('stops polling on stop()', async () => {
    const { api, server } = fakeApi();
    server.jobs = [running()];
    const store = createJobsStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);

    store.stop();
    const calls = api.listJobs.mock.calls.length;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(api.listJobs).toHaveBeenCalledTimes(calls);
  });
});

describe('freshestJobs', () => {
  it("keeps the server's order and membership", () => {
    const known = [running({ job_id: 'a' }), running({ job_id: 'b' })];
    expect(freshestJobs(known, [done({ job_id: 'b' })]).map((j) => j.job_id)).toEqual(['b']);
  });

  it('never goes back to an earlier state of the same attempt', () => {
    expect(freshestJobs([aJob({ status: 'cancelled' })], [aJob({ status: 'queued' })])[0].status).toBe('cancelled');
  });
});
