// What the Jobs page shows, and how it is kept fresh.
//
// - GET /api/jobs?limit=50 with the chosen host and status; again every 1 s
//   while any listed job is not final, every 10 s once all are. A new filter
//   fetches at once, and an answer for an older filter is dropped.
// - Host names come from one GET /api/agents; VM names from one GET of the
//   VMs of each approved host that the listed jobs act on (a job whose VM is
//   not known shows its UUID).
// - A job never goes back to an earlier state than one already seen, and a
//   cancel asked for stays asked for, so a list answer sent before a cancel
//   cannot undo it.

import { ApiError, errorMessage, type Api, type JobFilter } from '../api';
import { isFinal, type Agent, type Job } from '../types';
import { isPendingHost, newer, without } from './fleet';
import { coalesce, startPoller } from './poller';
import { createStore } from './store';

export interface JobsState {
  /** The first list for the current filter has arrived (or failed). */
  loaded: boolean;
  filter: JobFilter;
  jobs: Job[];
  error: string;
  agents: Agent[];
  agentsError: string;
  /** VM names by UUID, as far as they are known. */
  vmNames: ReadonlyMap<string, string>;
  /** Cancels being sent, by job id. */
  cancelling: Record<string, boolean>;
  /** Why a job's cancel failed, by job id. */
  rowErrors: Record<string, string>;
}

export type JobsApi = Pick<Api, 'listJobs' | 'cancelJob' | 'listAgents' | 'listVms'>;

export interface JobsOptions {
  /** The pace while any listed job is not final. */
  liveMs?: number;
  /** The pace once every listed job is final. */
  idleMs?: number;
  limit?: number;
}

export const LIVE_MS = 1000;
export const IDLE_MS = 10_000;
export const JOBS_PAGE_LIMIT = 50;

const EMPTY: JobsState = {
  loaded: false,
  filter: {},
  jobs: [],
  error: '',
  agents: [],
  agentsError: '',
  vmNames: new Map(),
  cancelling: {},
  rowErrors: {},
};

/** The copy to show: the further along, with a cancel once asked for kept. */
function latest(incoming: Job, known: Job | undefined): Job {
  const job = newer(incoming, known);
  return known?.cancel_requested && !job.cancel_requested ? { ...job, cancel_requested: true } : job;
}

/** The server's list, each job no earlier than the copy already shown. */
export function freshestJobs(known: Job[], incoming: Job[]): Job[] {
  const byId = new Map(known.map((job) => [job.job_id, job]));
  return incoming.map((job) => latest(job, byId.get(job.job_id)));
}

export function anyLive(jobs: Job[]): boolean {
  return jobs.some((job) => !isFinal(job.status));
}

export function createJobsStore(api: JobsApi, options: JobsOptions = {}) {
  const liveMs = options.liveMs ?? LIVE_MS;
  const idleMs = options.idleMs ?? IDLE_MS;
  const limit = options.limit ?? JOBS_PAGE_LIMIT;
  const store = createStore(EMPTY);
  let stopped = false;
  let stopPoller: (() => void) | null = null;
  const vmsAsked = new Set<string>();

  function update(change: (s: JobsState) => Partial<JobsState>): void {
    if (!stopped) store.update(change);
  }

  function rememberVms(agentId: string): void {
    vmsAsked.add(agentId);
    api.listVms(agentId).then(
      (vms) => update((s) => ({ vmNames: new Map([...s.vmNames, ...vms.map((vm) => [vm.uuid, vm.name] as const)]) })),
      () => {}, // the UUID shows instead
    );
  }

  /** Asks once for the VM names of each approved host the jobs act on. */
  function learnVmNames(): void {
    const hosts = new Set(store.get().jobs.filter((job) => job.vm_uuid !== null).map((job) => job.agent_id));
    for (const agent of store.get().agents) {
      if (stopped || !hosts.has(agent.agent_id) || isPendingHost(agent) || vmsAsked.has(agent.agent_id)) continue;
      rememberVms(agent.agent_id);
    }
  }

  async function loadAgents(): Promise<void> {
    try {
      const agents = await api.listAgents();
      update(() => ({ agents, agentsError: '' }));
      learnVmNames();
    } catch (error) {
      update(() => ({ agentsError: errorMessage(error) }));
    }
  }

  const refreshJobs = coalesce(async () => {
    const filter = store.get().filter;
    try {
      const jobs = await api.listJobs(limit, filter);
      if (filter !== store.get().filter) return; // a run for the new filter follows
      update((s) => ({ loaded: true, error: '', jobs: freshestJobs(s.jobs, jobs) }));
      learnVmNames();
    } catch (error) {
      if (filter === store.get().filter) update(() => ({ loaded: true, error: errorMessage(error) }));
    }
  });

  function poll(): void {
    stopPoller?.();
    stopPoller = startPoller(refreshJobs, () => (anyLive(store.get().jobs) ? liveMs : idleMs));
  }

  async function cancel(jobId: string): Promise<void> {
    update((s) => ({ cancelling: { ...s.cancelling, [jobId]: true }, rowErrors: without(s.rowErrors, jobId) }));
    try {
      const job = await api.cancelJob(jobId);
      update((s) => ({ jobs: s.jobs.map((known) => (known.job_id === job.job_id ? latest(job, known) : known)) }));
    } catch (error) {
      update((s) => ({ rowErrors: { ...s.rowErrors, [jobId]: errorMessage(error) } }));
      if (error instanceof ApiError && error.code === 'job_final' && !stopped) void refreshJobs();
    } finally {
      update((s) => ({ cancelling: without(s.cancelling, jobId) }));
    }
  }

  return {
    getState: store.get,
    subscribe: store.subscribe,
    start(): void {
      if (stopPoller || stopped) return;
      void loadAgents();
      poll();
    },
    stop(): void {
      stopped = true;
      stopPoller?.();
    },
    /** Lists the jobs `filter` asks for, from now on, starting at once. */
    setFilter(filter: JobFilter): void {
      if (stopped) return;
      update(() => ({ filter, jobs: [], loaded: false, error: '' }));
      poll();
    },
    cancel,
  };
}

export type JobsStore = ReturnType<typeof createJobsStore>;
