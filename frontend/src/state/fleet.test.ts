import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { fakeFeed, feedCalls } from '../test/fakeFeed';
import { aJob, anAgent, aVm } from '../test/fixtures';
import type { Agent, Job, VM } from '../types';
import { fakeVisibility } from '../test/fakeVisibility';
import { renewAt } from './changeFeed';
import { createFleetStore, mergeJobs, vmKey, type FleetApi } from './fleet';

/** An API whose answers the test changes as the "server" moves on. */
function fakeApi() {
  const server = {
    agents: [anAgent()] as Agent[],
    vms: [aVm({ state: 'shutoff' })] as VM[],
    job: aJob() as Job,
    feed: fakeFeed(),
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
    ...feedCalls(server.feed),
    pingAgents: vi.fn(async () => ({ pinged: 0 })),
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
    refreshCapabilities: vi.fn(async () => server.job),
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

  it('loads the version, then hosts, their VMs and jobs on start, and nothing more while nothing changes', async () => {
    const { api } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);

    expect(store.getState().agents.map((a) => a.name)).toEqual(['hv1']);
    expect(store.getState().vms['agt-1'].map((v) => v.name)).toEqual(['web1']);
    expect(api.listJobs).toHaveBeenCalledWith(20);
    expect(api.fleetFeed.mock.invocationCallOrder[0]).toBeLessThan(api.listAgents.mock.invocationCallOrder[0]);

    await vi.advanceTimersByTimeAsync(30_000);
    expect([api.listAgents, api.listVms, api.listJobs, api.fleetFeed].map((fn) => fn.mock.calls.length)).toEqual([
      1, 1, 1, 1,
    ]);
    expect(api.readFeed).toHaveBeenCalledTimes(20); // every 1.5 s, from the bucket
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
    const asked = [api.listAgents, api.getJob, api.listJobs, api.readFeed, api.pingAgents, api.fleetFeed];
    const counts = asked.map((fn) => fn.mock.calls.length);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(asked.map((fn) => fn.mock.calls.length)).toEqual(counts);
    expect(store.watching()).toBe(0);
    expect(api.readFeed).toHaveBeenCalledTimes(0);
  });
});

describe('fleet store: changes behind the page', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const calls = (api: ReturnType<typeof fakeApi>['api']) =>
    [api.listAgents, api.listVms, api.listJobs].map((fn) => fn.mock.calls.length);

  it('refetches hosts, VMs and jobs at the next feed read after the version moved', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.getState().vms['agt-1'][0].state).toBe('shutoff');

    server.vms = [aVm({ state: 'running', state_reason: 'booted' })]; // `virsh start` on the host
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(500); // the read 1.5 s after the first

    expect(store.getState().vms['agt-1'][0].state).toBe('running');
    expect(calls(api)).toEqual([2, 2, 2]);
    expect(api.readFeed).toHaveBeenLastCalledWith(server.feed.answer().feed.url, expect.any(AbortSignal));
    store.stop();
  });

  it('refetches nothing while the version stays put', async () => {
    const { api } = fakeApi();
    const store = createFleetStore(api, { tickMs: 600_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.readFeed).toHaveBeenCalledTimes(40);
    expect(calls(api)).toEqual([1, 1, 1]);
    store.stop();
  });

  it('refetches when the version goes back too (a store restored from a backup)', async () => {
    const { api, server } = fakeApi();
    server.feed.set(7);
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(1500);
    server.feed.set(3);
    await vi.advanceTimersByTimeAsync(1500);
    expect(calls(api)).toEqual([2, 2, 2]);
    store.stop();
  });

  it('asks for a new URL at once when the bucket answers 403, and reads on with it', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(1500);
    expect(api.fleetFeed).toHaveBeenCalledTimes(1);

    server.feed.expire();
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(1600); // this read is refused; a new URL and a read follow at once
    expect(api.fleetFeed).toHaveBeenCalledTimes(2);
    expect(api.readFeed.mock.calls.at(-1)![0]).toBe(server.feed.answer().feed.url);
    expect(calls(api)).toEqual([2, 2, 2]); // the change the refused read hid is seen
    store.stop();
  });

  it('backs off while the feed keeps failing, and recovers', async () => {
    const { api, server } = fakeApi();
    api.readFeed.mockRejectedValue(new ApiError(0, 'network_error', 'Could not fetch.'));
    const store = createFleetStore(api, { tickMs: 600_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(1500 + 5000 + 10_000 + 20_000 + 40_000 + 60_000);
    expect(api.readFeed).toHaveBeenCalledTimes(6); // 1.5 s, then 5, 10, 20, 40, 60 s apart
    api.readFeed.mockImplementation(async () => server.feed.version);
    await vi.advanceTimersByTimeAsync(60_000 + 1500);
    expect(api.readFeed).toHaveBeenCalledTimes(8);
    store.stop();
  });

  it('renews the URL a minute before it expires, with no 403 on the way', async () => {
    const { api, server } = fakeApi();
    api.fleetFeed.mockImplementation(async () => server.feed.answer(Date.now(), 300));
    const store = createFleetStore(api, { tickMs: 600_000 });
    store.start();
    await vi.advanceTimersByTimeAsync(239_000);
    expect(api.fleetFeed).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(api.fleetFeed).toHaveBeenCalledTimes(2);
    store.stop();
  });

  it('still loads the lists when the server hands out no feed, and asks for it again later', async () => {
    const { api } = fakeApi();
    api.fleetFeed.mockRejectedValueOnce(new ApiError(0, 'feed_unavailable', 'The server has no change feed.'));
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().agents).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.fleetFeed).toHaveBeenCalledTimes(2);
    expect(api.readFeed).toHaveBeenCalledTimes(1);
    store.stop();
  });
});

describe('fleet store: the slow tick', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('every 40 s pings the hosts, then refetches the host list (not every VM list)', async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(39_000);
    expect(api.pingAgents).not.toHaveBeenCalled();

    server.agents = [anAgent({ status: 'stale' })]; // aged on the server: no write, no version change
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.pingAgents).toHaveBeenCalledTimes(1);
    expect(api.pingAgents.mock.invocationCallOrder[0]).toBeLessThan(api.listAgents.mock.invocationCallOrder[1]);
    expect(store.getState().agents[0].status).toBe('stale');
    expect([api.listAgents, api.listVms, api.listJobs].map((fn) => fn.mock.calls.length)).toEqual([2, 1, 1]);

    await vi.advanceTimersByTimeAsync(40_000);
    expect(api.pingAgents).toHaveBeenCalledTimes(2);
    store.stop();
  });

  it('pings only the hosts on screen, and nobody when none is', async () => {
    const { api } = fakeApi();
    let shown: string[] | undefined = ['ag_1'];
    const store = createFleetStore(api, { onScreen: { ids: () => shown, watch: () => () => {} } });
    store.start();
    await vi.advanceTimersByTimeAsync(40_000);
    expect(api.pingAgents).toHaveBeenLastCalledWith(['ag_1']);

    shown = [];
    await vi.advanceTimersByTimeAsync(40_000);
    expect(api.pingAgents).toHaveBeenCalledTimes(1);
    expect(api.listAgents).toHaveBeenCalledTimes(3); // the list is still refetched

    shown = undefined; // the browser cannot say: every host is asked
    await vi.advanceTimersByTimeAsync(40_000);
    expect(api.pingAgents).toHaveBeenLastCalledWith(undefined);
    store.stop();
  });

  it('refetches the host list even where the ping is not there yet (404)', async () => {
    const { api } = fakeApi();
    api.pingAgents.mockRejectedValue(new ApiError(404, 'route_not_found', 'No such route.'));
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(40_000);
    expect(api.listAgents).toHaveBeenCalledTimes(2);
    expect(store.getState().hostsError).toBe('');
    store.stop();
  });

  it("fetches the VMs of a host the tick finds for the first time", async () => {
    const { api, server } = fakeApi();
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    server.agents = [anAgent(), anAgent({ agent_id: 'agt-2', name: 'hv2' })];
    await vi.advanceTimersByTimeAsync(40_000);
    expect(api.listVms.mock.calls.map(([id]) => id)).toEqual(['agt-1', 'agt-2']);
    store.stop();
  });
});

describe('renewAt', () => {
  const now = 1_700_000_000_000;

  it('is a minute before the expiry', () => {
    expect(renewAt(now / 1000 + 900, now)).toBe(now + 840_000);
  });

  it('waits at least a minute when the clocks disagree (the browser ahead of the server)', () => {
    expect(renewAt(now / 1000 - 3600, now)).toBe(now + 60_000);
  });

  it('waits at most 15 minutes when the browser is behind', () => {
    expect(renewAt(now / 1000 + 7200, now)).toBe(now + 900_000);
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
    await vi.advanceTimersByTimeAsync(0);
    server.feed.bump(); // everything is fetched again
    await vi.advanceTimersByTimeAsync(1500);

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
    const { api, server } = fakeApi();
    const answers: Array<(agents: Agent[]) => void> = [];
    const held = () => new Promise<Agent[]>((resolve) => answers.push(resolve));
    const store = createFleetStore(api);
    store.start();
    await vi.advanceTimersByTimeAsync(0);
    api.listAgents.mockImplementationOnce(held).mockImplementationOnce(held);
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(1500); // the refetch the change asked for is now waiting

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

describe('fleet store: a hidden tab', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks nothing at all while hidden (no feed read, no tick), and catches up at once when shown', async () => {
    const { api, server } = fakeApi();
    const tab = fakeVisibility();
    const store = createFleetStore(api, { visibility: tab });
    store.start();
    await vi.advanceTimersByTimeAsync(1500);
    expect(api.readFeed).toHaveBeenCalledTimes(1);

    tab.set(true);
    await vi.advanceTimersByTimeAsync(0);
    const asked = Object.values(api);
    const counts = asked.map((fn) => fn.mock.calls.length);
    server.feed.bump();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(asked.map((fn) => fn.mock.calls.length)).toEqual(counts);

    server.vms = [aVm({ state: 'running' })]; // changed while nobody looked
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.fleetFeed).toHaveBeenCalledTimes(2); // the version first, then the lists
    expect(api.listAgents).toHaveBeenCalledTimes(2);
    expect(store.getState().vms['agt-1'][0].state).toBe('running');
    await vi.advanceTimersByTimeAsync(1500);
    expect(api.readFeed).toHaveBeenCalledTimes(2);
    expect(api.listAgents).toHaveBeenCalledTimes(2); // the version it had is the one it read
    store.stop();
    expect(tab.listening()).toBe(0);
  });

  it('opened in a background tab, loads nothing until it is shown', async () => {
    const { api } = fakeApi();
    const tab = fakeVisibility(true);
    const store = createFleetStore(api, { visibility: tab });
    store.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(Object.values(api).every((fn) => fn.mock.calls.length === 0)).toBe(true);
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listAgents).toHaveBeenCalledTimes(1);
    store.stop();
  });
});
