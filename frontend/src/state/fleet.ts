// What the hosts page shows, and how it is kept fresh.
//
// - While the page is on screen it follows the fleet's change feed
//   (changeFeed.ts) and refetches hosts, VMs and jobs when the version moves;
//   a hidden tab asks nothing.
// - Every TICK_MS (40 s) the page asks the hosts it has not heard from for
//   30 s for a sign of life (POST /api/agents/ping; a server without it
//   answers 404/405, which is fine), then refetches the host list: a status that ages
//   into stale changes nothing on the server, so only this shows it. The VMs
//   of a host are fetched on a feed change, not on this tick.
// - A job the operator starts here is polled every 250 ms until it is final;
//   then its host's VM list is refetched at once, so the VM's new state shows
//   well within a second of the job finishing.
// - A host waiting for approval has no reachable VMs: its /vms is never asked.
// - Approving, rejecting, deregistering or relabelling a host shows the
//   server's answer at once; a host list that was in flight meanwhile is
//   dropped (it may predate the change) and fetched again.
// - Each kind of request runs one at a time (see `coalesce`), and nothing
//   polls after `stop()` (the page unmounts on logout or an expired session).
// - A hidden tab runs no tick either.

import { errorMessage, type Api } from '../api';
import { isFinal, type Agent, type Job, type VM, type VmAction, type VmRequest } from '../types';
import { createChangeFeed, sleep, type PageVisibility } from './changeFeed';
import { watchJob } from './jobWatch';
import { hostsOnScreen, type OnScreen } from './onScreen';
import { coalesce } from './poller';
import { createStore } from './store';

export interface FleetState {
  /** The first host list has arrived (or failed). */
  loaded: boolean;
  agents: Agent[];
  /** VMs by agent id. */
  vms: Record<string, VM[]>;
  /** Why a host's VM list could not be loaded, by agent id. */
  vmErrors: Record<string, string>;
  hostsError: string;
  jobs: Job[];
  jobsError: string;
  /** The last failed action, by vmKey(). */
  actionErrors: Record<string, string>;
  /** Actions being sent, by vmKey(). */
  sending: Record<string, boolean>;
}

export type FleetApi = Pick<
  Api,
  | 'listAgents'
  | 'fleetFeed'
  | 'readFeed'
  | 'pingAgents'
  | 'listVms'
  | 'listJobs'
  | 'getJob'
  | 'getJobResult'
  | 'vmAction'
  | 'approveAgent'
  | 'rejectAgent'
  | 'deregisterAgent'
  | 'updateAgentLabels'
  | 'refreshCapabilities'
>;

export interface FleetOptions {
  /** How often the hosts are pinged and the host list refetched. */
  tickMs?: number;
  jobPollMs?: number;
  jobLimit?: number;
  visibility?: PageVisibility;
  /** Which hosts are on screen: only they are pinged (onScreen.ts). */
  onScreen?: OnScreen;
}

/** With the server's 30 s quiet and 15 s answer windows: a host that dies shows stale within 2 minutes. */
export const TICK_MS = 40_000;
export const JOB_LIMIT = 20;

export function vmKey(agentId: string, vmUuid: string): string {
  return `${agentId}/${vmUuid}`;
}

const EMPTY: FleetState = {
  loaded: false,
  agents: [],
  vms: {},
  vmErrors: {},
  hostsError: '',
  jobs: [],
  jobsError: '',
  actionErrors: {},
  sending: {},
};

const STATUS_RANK: Record<string, number> = { queued: 0, claimed: 1, running: 2 };

/** Orders two copies of one job: a later attempt, or further along in it. */
function progress(job: Job): number {
  return job.attempt * 10 + (STATUS_RANK[job.status] ?? 3);
}

/** Of two copies of one job, the one further along (`a` when they are level). */
export function newer(a: Job, b: Job | undefined): Job {
  return b !== undefined && progress(b) > progress(a) ? b : a;
}

/** The server's list, never going back on what a faster poll already saw. */
export function mergeJobs(known: Job[], incoming: Job[], limit: number): Job[] {
  const byId = new Map(known.map((job) => [job.job_id, job]));
  const merged = new Map(incoming.map((job) => [job.job_id, newer(job, byId.get(job.job_id))]));
  for (const job of known) if (!merged.has(job.job_id)) merged.set(job.job_id, job);
  return [...merged.values()].sort((a, b) => b.created_ms - a.created_ms).slice(0, limit);
}

/** A host waiting for approval: the server answers 404 for its VMs. */
export function isPendingHost(agent: Agent): boolean {
  return agent.approval === 'pending';
}

/** What a VM row shows for a job of its own that ended without succeeding. */
export function jobFailure(job: Job): string | null {
  if (job.status === 'succeeded' || !isFinal(job.status)) return null;
  const status = job.status.replace('_', ' ');
  return job.summary ? `${job.op} ${status}: ${job.summary}` : `${job.op} ${status}.`;
}

export function without<T>(record: Record<string, T>, key: string): Record<string, T> {
  const { [key]: _dropped, ...rest } = record;
  return rest;
}

export function createFleetStore(api: FleetApi, options: FleetOptions = {}) {
  const tickMs = options.tickMs ?? TICK_MS;
  const jobLimit = options.jobLimit ?? JOB_LIMIT;
  const onScreen = options.onScreen ?? hostsOnScreen;
  const store = createStore(EMPTY);
  let stopped = false;
  const watchers = new Map<string, () => void>();
  /** Who waits for a job started here to end, by job id. */
  const waiters = new Map<string, Array<(job: Job) => void>>();
  const vmRefreshers = new Map<string, () => Promise<void>>();
  /** Bumped by every host change made here; a host list fetched across one is stale. */
  let hostEdits = 0;

  function update(change: (s: FleetState) => Partial<FleetState>): void {
    if (!stopped) store.update(change);
  }

  async function loadVms(agentId: string): Promise<void> {
    try {
      const vms = await api.listVms(agentId);
      update((s) => ({ vms: { ...s.vms, [agentId]: vms }, vmErrors: without(s.vmErrors, agentId) }));
    } catch (error) {
      update((s) => ({ vmErrors: { ...s.vmErrors, [agentId]: errorMessage(error) } }));
    }
  }

  /** Refetches one host's VMs; calls made meanwhile share one follow-up fetch. */
  function refreshVms(agentId: string): Promise<void> {
    let refresh = vmRefreshers.get(agentId);
    if (!refresh) {
      refresh = coalesce(() => loadVms(agentId));
      vmRefreshers.set(agentId, refresh);
    }
    return refresh();
  }

  function keepVmsOf(agents: Agent[], vms: Record<string, VM[]>): Record<string, VM[]> {
    const kept = agents.filter((a) => a.agent_id in vms && !isPendingHost(a));
    return Object.fromEntries(kept.map((a) => [a.agent_id, vms[a.agent_id]]));
  }

  /** Fetches the host list, then the VMs of every reachable host (`onlyNew`: of those not loaded yet). */
  async function loadHosts(onlyNew: boolean): Promise<void> {
    const edits = hostEdits;
    let agents: Agent[];
    try {
      agents = await api.listAgents();
    } catch (error) {
      update(() => ({ loaded: true, hostsError: errorMessage(error) }));
      return;
    }
    if (edits !== hostEdits) return; // a change made meanwhile asked for another run
    update((s) => ({ loaded: true, hostsError: '', agents, vms: keepVmsOf(agents, s.vms) }));
    const reachable = agents.filter((agent) => !isPendingHost(agent) && !(onlyNew && agent.agent_id in store.get().vms));
    await Promise.all(reachable.map((agent) => refreshVms(agent.agent_id)));
  }

  const refreshHosts = coalesce(() => loadHosts(false));
  /** What the tick refetches: statuses and last signs of life age without a change to the fleet's VMs. */
  const refreshHostList = coalesce(() => loadHosts(true));

  /** Shows a host as the server answered it, then fetches the list again. */
  function hostChanged(agent: Agent): void {
    hostEdits += 1;
    const before = store.get().agents.find((a) => a.agent_id === agent.agent_id);
    update((s) => ({ agents: s.agents.map((a) => (a.agent_id === agent.agent_id ? agent : a)) }));
    if (stopped) return;
    if (before && isPendingHost(before) && !isPendingHost(agent)) void refreshVms(agent.agent_id);
    void refreshHosts();
  }

  function hostRemoved(agentId: string): void {
    hostEdits += 1;
    update((s) => ({
      agents: s.agents.filter((a) => a.agent_id !== agentId),
      vms: without(s.vms, agentId),
      vmErrors: without(s.vmErrors, agentId),
    }));
    if (!stopped) void refreshHosts();
  }

  /**
   * Rejecting a re-registration drops the new key (the host keeps its old
   * one); with none pending, rejecting a new host removes it.
   */
  async function rejectHost(agent: Agent): Promise<void> {
    await api.rejectAgent(agent.agent_id);
    if (agent.pending_reregistration) {
      hostChanged({ ...agent, pending_reregistration: false, pending_since_ms: null });
    } else {
      hostRemoved(agent.agent_id);
    }
  }

  const refreshJobs = coalesce(async () => {
    try {
      const jobs = await api.listJobs(jobLimit);
      update((s) => ({ jobs: mergeJobs(s.jobs, jobs, jobLimit), jobsError: '' }));
    } catch (error) {
      update(() => ({ jobsError: errorMessage(error) }));
    }
  });

  function recordJob(job: Job): void {
    update((s) => ({ jobs: mergeJobs(s.jobs, [job], jobLimit) }));
  }

  function setActionError(agentId: string, vmUuid: string, message: string): void {
    const key = vmKey(agentId, vmUuid);
    update((s) => ({ actionErrors: { ...s.actionErrors, [key]: message } }));
  }

  function jobFinished(job: Job): void {
    watchers.delete(job.job_id);
    const failure = jobFailure(job);
    if (failure !== null && job.vm_uuid) setActionError(job.agent_id, job.vm_uuid, failure);
    const waiting = waiters.get(job.job_id) ?? [];
    waiters.delete(job.job_id);
    waiting.forEach((resolve) => resolve(job));
    void refreshVms(job.agent_id);
  }

  function follow(job: Job): void {
    if (isFinal(job.status)) return jobFinished(job);
    if (stopped || watchers.has(job.job_id)) return;
    const stop = watchJob(job.job_id, {
      getJob: api.getJob,
      onUpdate: recordJob,
      onFinal: jobFinished,
      intervalMs: options.jobPollMs,
    });
    watchers.set(job.job_id, stop);
  }

  /**
   * Queues a VM action and follows its job. Resolves to the job as queued, or
   * null when the server refused (its message then shows on the VM's row).
   */
  async function runAction(agentId: string, vmUuid: string, action: VmAction | VmRequest): Promise<Job | null> {
    try {
      return await queue(agentId, vmUuid, action);
    } catch (error) {
      setActionError(agentId, vmUuid, errorMessage(error));
      return null;
    }
  }

  /** Queues a VM action and follows its job; throws the server's refusal. */
  async function queue(agentId: string, vmUuid: string, action: VmAction | VmRequest): Promise<Job> {
    const key = vmKey(agentId, vmUuid);
    update((s) => ({ sending: { ...s.sending, [key]: true }, actionErrors: without(s.actionErrors, key) }));
    try {
      const job = await api.vmAction(agentId, vmUuid, action);
      recordJob(job);
      follow(job);
      return job;
    } finally {
      update((s) => ({ sending: without(s.sending, key) }));
    }
  }

  /**
   * For a form (clone, resize): queues the action and resolves to its job once final. The server's
   * refusal is thrown (an ApiError, with its fields) for the form to show beside what it names.
   */
  async function submit(agentId: string, vmUuid: string, request: VmRequest): Promise<Job> {
    return finalJob(await queue(agentId, vmUuid, request));
  }

  /** Waits for a job started here to end (never resolves once the store has stopped). */
  function finalJob(job: Job): Promise<Job> {
    if (isFinal(job.status)) return Promise.resolve(job);
    return new Promise((resolve) => waiters.set(job.job_id, [...(waiters.get(job.job_id) ?? []), resolve]));
  }

  /** Queues a VM action and resolves to its job once final; null when it was refused. */
  async function runAndWait(agentId: string, vmUuid: string, request: VmRequest): Promise<Job | null> {
    const job = await runAction(agentId, vmUuid, request);
    return job === null ? null : finalJob(job);
  }

  /**
   * Runs an action that reads something (detail, snapshot-list) and resolves
   * to its result's `data`; null when anything failed (the VM row says why).
   */
  async function readResult(agentId: string, vmUuid: string, request: VmRequest): Promise<unknown> {
    const job = await runAndWait(agentId, vmUuid, request);
    if (job === null || job.status !== 'succeeded') return null;
    try {
      return await resultData(job);
    } catch (error) {
      setActionError(agentId, vmUuid, errorMessage(error));
      return null;
    }
  }

  /** A succeeded job's result `data`; throws the agent's error, or why the result could not be read. */
  async function resultData(job: Job): Promise<unknown> {
    const document = await api.getJobResult(job.job_id);
    if (!document.ok) throw new Error(document.error?.message ?? `${job.op} failed.`);
    return document.data ?? null;
  }

  /** Asks the host for its full capabilities (pools, networks…: a host.capabilities job) and resolves to
   *  them; throws the refusal or the job's failure. */
  async function readHostCapabilities(agentId: string): Promise<unknown> {
    const job = await api.refreshCapabilities(agentId);
    recordJob(job);
    follow(job);
    const done = await finalJob(job);
    if (done.status !== 'succeeded') throw new Error(jobFailure(done) ?? `${done.op} failed.`);
    return resultData(done);
  }

  function refreshAll(): Promise<unknown> {
    return Promise.all([refreshHosts(), refreshJobs()]);
  }

  /** Every tickMs: ask silent hosts for a sign of life, then refetch the host list (statuses age unseen). */
  async function tick(signal: AbortSignal): Promise<void> {
    while (await sleep(tickMs, signal)) {
      try {
        const shown = onScreen.ids();
        if (shown === undefined || shown.length > 0) await api.pingAgents(shown);
      } catch {
        // A server without the ping (404), or a refusal: the list below still shows statuses as they age.
      }
      if (!signal.aborted) await refreshHostList();
    }
  }

  const feed = createChangeFeed(api, {
    visibility: options.visibility,
    refresh: () => void refreshAll(),
    whileShown: (signal) => void tick(signal),
  });

  return {
    getState: store.get,
    subscribe: store.subscribe,
    start: feed.start,
    stop(): void {
      stopped = true;
      feed.stop();
      watchers.forEach((stopWatching) => stopWatching());
      watchers.clear();
    },
    refreshVms,
    runAction,
    runAndWait,
    readResult,
    submit,
    resultData,
    readHostCapabilities,
    approveHost: async (agentId: string) => hostChanged(await api.approveAgent(agentId)),
    rejectHost,
    deregisterHost: async (agentId: string) => {
      await api.deregisterAgent(agentId);
      hostRemoved(agentId);
    },
    saveLabels: async (agentId: string, labels: Record<string, string>) =>
      hostChanged(await api.updateAgentLabels(agentId, labels)),
    /** How many jobs are being polled (for tests and diagnostics). */
    watching: () => watchers.size,
  };
}

export type FleetStore = ReturnType<typeof createFleetStore>;

/** What a VM row's extra controls may ask of the store; failures show on the row. */
export type VmOps = Pick<FleetStore, 'runAction' | 'runAndWait' | 'readResult' | 'submit' | 'resultData'>;

/** What a host card may ask of the store; each throws the server's refusal. */
export type HostOps = Pick<FleetStore, 'approveHost' | 'rejectHost' | 'deregisterHost' | 'saveLabels'> &
  Partial<Pick<FleetStore, 'readHostCapabilities'>>;
