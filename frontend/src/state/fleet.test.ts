import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { fakeChanges } from '../test/fakeChanges';
import { aJob, anAgent, aVm } from '../test/fixtures';
import type { Agent, Job, VM } from '../types';
import { createFleetStore, mergeJobs, vmKey, type FleetApi } from './fleet';

/** An API whose answers the test changes as the "server" moves on. */
function fakeApi() {
  const server = {
    agents: [anAgent()] as Agent[],
    vms: [aVm({ state: 'shutoff' })] as VM[],
    job: aJob() as Job,
    changes: fakeChanges(),
  };
  /** Approves on the "server" too, so the next list agrees. */
  function approved(agentId: string): Agent {
    server.agents = server.agents.map((a) =>
      a.agent_id === agentId ? { ...a, approval: 'approved', status: 'online' } : a,
    );
    return server.agents.find((a) => a.agent_id === agentId)!;
  }
  const api = {
    listAgents: vi.fn(async () => server.agents),
    fleetChanges: vi.fn((after: number | null, wait: number, signal?: AbortSignal) =>
      server.changes.wait(after, wait, signal),
    ),
    listVms: vi.fn(async (_agentId: string) => server.vms),
    listJobs: vi.fn(async () => [] as Job[]),
    getJob: vi.fn(async () => server.job),
    getJobResult: vi.fn(async () => ({
      job_id: server.job.job_id,
      attempt: 1,
      op: server.job.op,
      ok: true,
      vm: null,
      error: null,
      duration_ms: 1,
    })),
    vmAction: vi.fn(async () => server.job),
    approveAgent: vi.fn(async (agentId: string) => approved(agentId)),
    rejectAgent: vi.fn(async () => ({})),
    deregisterAgent: vi.fn(async (agentId: string) => {
      server.agents = server.agents.filter((a) => a.agent_id !== agentId);
      return {};
    }),
    updateAgentLabels: vi.fn(async (agentId: string, labels: Record<string, string>) => ({
      ...server.agents.find((a) => a.agent_id === agentId)!,
      labels,
    })),
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
    expect(server.changes.held()).toBe(0);
  });
});

describe('fleet store: changes behind the page', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('refetches hosts, VMs and jobs as soon as the fleet changes, not at the next tick', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.fleetChanges).toHaveBeenLastCalledWith(0, 20, expect.any(AbortSignal));
    expect(store.getState().vms['agt-1'][0].state).toBe('shutoff');

    server.vms = [aVm({ state: 'running', state_reason: 'booted' })]; // `virsh start` on the host
    server.changes.bump();
    await vi.advanceTimersByTimeAsync(0);

    expect(store.getState().vms['agt-1'][0].state).toBe('running');
    expect(api.listAgents).toHaveBeenCalledTimes(2);
    expect(api.listJobs).toHaveBeenCalledTimes(2);
    expect(api.fleetChanges).toHaveBeenLastCalledWith(1, 20, expect.any(AbortSignal));
    store.stop();
  });

  it('asks again when a wait ends with no change, and refetches nothing for it', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api, { refreshMs: 60_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(api.fleetChanges).toHaveBeenCalledTimes(3); // the version, then one wait ended and the next began
    expect(api.listAgents).toHaveBeenCalledTimes(1);
    expect(server.changes.held()).toBe(1);
    store.stop();
  });

  it('waits before asking again when the long poll fails', async () => {
    const { api, server } = fakeApi();
    api.fleetChanges.mockRejectedValueOnce(new ApiError(503, 'unavailable', 'Try later.'));
    const store = createFleetStore(api, { refreshMs: 60_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(api.fleetChanges).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.fleetChanges).toHaveBeenCalledTimes(3);
    expect(server.changes.held()).toBe(1);
    store.stop();
  });
});

describe('fleet store: hosts', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const pending = () => anAgent({ agent_id: 'agt-2', name: 'hv2', status: 'pending', approval: 'pending' });

  it('never asks for the VMs of a host waiting for approval', async () => {
    const { api, server } = fakeApi();
    server.agents = [anAgent(), pending()];
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(5000);

    expect(store.getState().agents).toHaveLength(2);
    expect(api.listVms.mock.calls.map(([id]) => id)).toEqual(['agt-1', 'agt-1']);
    store.stop();
  });

  it("fetches an approved host's VMs at once", async () => {
    const { api, server } = fakeApi();
    server.agents = [pending()];
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listVms).not.toHaveBeenCalled();

    await store.approveHost('agt-2');
    expect(store.getState().agents[0].approval).toBe('approved');
    expect(api.listVms).toHaveBeenCalledWith('agt-2');
    store.stop();
  });

  it('drops a host list that was in flight when a host changed, and fetches it again', async () => {
    const { api } = fakeApi();
    const answers: Array<(agents: Agent[]) => void> = [];
    const held = () => new Promise<Agent[]>((resolve) => answers.push(resolve));
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    api.listAgents.mockImplementationOnce(held).mockImplementationOnce(held);
    await vi.advanceTimersByTimeAsync(5000); // the next poll is now waiting

    await store.saveLabels('agt-1', { rack: 'r1' });
    answers[0]([anAgent({ labels: {} })]); // sent before the change
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().agents[0].labels).toEqual({ rack: 'r1' });

    expect(answers).toHaveLength(2); // asked again after the change
    answers[1]([anAgent({ labels: { rack: 'r1' }, name: 'hv1-renamed' })]);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().agents[0].name).toBe('hv1-renamed');
    store.stop();
  });

  it('removes a deregistered host with its VMs', async () => {
    const { api } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);

    await store.deregisterHost('agt-1');
    expect(store.getState().agents).toEqual([]);
    expect(store.getState().vms).toEqual({});
    store.stop();
  });

  it('keeps a host whose re-registration was rejected, and removes a rejected new host', async () => {
    const { api, server } = fakeApi();
    const retaken = anAgent({ pending_reregistration: true, pending_since_ms: 1 });
    server.agents = [retaken, pending()];
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    api.listAgents.mockImplementation(() => new Promise<Agent[]>(() => {})); // only the answers to the calls count

    await store.rejectHost(retaken);
    expect(store.getState().agents.map((a) => [a.agent_id, a.pending_reregistration])).toEqual([
      ['agt-1', false],
      ['agt-2', false],
    ]);
    expect(store.getState().vms['agt-1']).toHaveLength(1);

    await store.rejectHost(pending());
    expect(store.getState().agents.map((a) => a.agent_id)).toEqual(['agt-1']);
    expect(api.rejectAgent.mock.calls).toEqual([['agt-1'], ['agt-2']]);
    store.stop();
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

/** A tab the test hides and shows. */
function fakeVisibility(hidden = false) {
  const listeners = new Set<() => void>();
  return {
    hidden: () => hidden,
    onChange(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(nowHidden: boolean) {
      hidden = nowHidden;
      listeners.forEach((listener) => listener());
    },
    listening: () => listeners.size,
  };
}

describe('fleet store: a hidden tab', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks nothing while hidden, lets the long poll go, and catches up at once when shown', async () => {
    const { api, server } = fakeApi();
    const tab = fakeVisibility();
    const store = createFleetStore(api, { visibility: tab });
    store.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.changes.held()).toBe(1);

    tab.set(true);
    await vi.advanceTimersByTimeAsync(0);
    const asked = { agents: api.listAgents.mock.calls.length, changes: api.fleetChanges.mock.calls.length };
    expect(server.changes.held()).toBe(0); // the held request is let go
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.listAgents).toHaveBeenCalledTimes(asked.agents);
    expect(api.fleetChanges).toHaveBeenCalledTimes(asked.changes);

    server.vms = [aVm({ state: 'running' })]; // changed while nobody looked
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listAgents).toHaveBeenCalledTimes(asked.agents + 1);
    expect(store.getState().vms['agt-1'][0].state).toBe('running');
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.changes.held()).toBe(1);
    store.stop();
    expect(tab.listening()).toBe(0);
  });

  it('opened in a background tab, loads nothing until it is shown', async () => {
    const { api } = fakeApi();
    const tab = fakeVisibility(true);
    const store = createFleetStore(api, { visibility: tab });
    store.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(api.listAgents).not.toHaveBeenCalled();
    expect(api.fleetChanges).not.toHaveBeenCalled();
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listAgents).toHaveBeenCalledTimes(1);
    store.stop();
  });
});
