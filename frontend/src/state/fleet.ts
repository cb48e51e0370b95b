// What the hosts page shows, and how it is kept fresh.
//
// - While the page is on screen it reads the fleet's change feed: a tiny
//   object, `{"version": N}`, that the server rewrites whenever something
//   changed behind the page's back (a VM stopped with virsh, a guest powered
//   off, a host enrolled or came back). The page GETs it straight from the
//   bucket every `poll_ms` (1.5 s) through a presigned URL that GET
//   /api/changes hands out, with no header of ours (no CORS preflight) and
//   the browser's cache off. When the version differs from the last one seen
//   (any difference, not only a larger one), hosts, VMs and jobs are
//   refetched: such a change shows within two seconds, and costs no Lambda
//   while nothing changes. The URL is renewed a minute before it expires and
//   at once on a 403 or 404; failures back off (FEED_RETRY_MS, doubling, up to
//   a minute).
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
// - A hidden tab asks nothing at all: no feed read, no tick. When the tab
//   shows again the page asks for the feed (the version first, so a change
//   made while the lists load is not missed), fetches everything, and resumes.

import { ApiError, errorMessage, type Api } from '../api';
import { isFinal, type Agent, type Job, type VM, type VmAction, type VmRequest } from '../types';
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

/** Whether the page is on screen, and word when that changes (the Page Visibility API; a seam for tests). */
export interface PageVisibility {
  hidden(): boolean;
  onChange(listener: () => void): () => void;
}

export const documentVisibility: PageVisibility = {
  hidden: () => typeof document !== 'undefined' && document.visibilityState === 'hidden',
  onChange(listener) {
    if (typeof document === 'undefined') return () => {};
    document.addEventListener('visibilitychange', listener);
    return () => document.removeEventListener('visibilitychange', listener);
  },
};

/** Calls `resume` now if the page shows, then `pause`/`resume` as it hides and shows; returns how to stop. */
export function whileVisible(visibility: PageVisibility, resume: () => void, pause: () => void): () => void {
  const stop = visibility.onChange(() => (visibility.hidden() ? pause() : resume()));
  if (!visibility.hidden()) resume();
  return stop;
}

/** With the server's 30 s quiet and 15 s answer windows: a host that dies shows stale within 2 minutes. */
export const TICK_MS = 40_000;
export const FEED_RETRY_MS = 5000;
export const FEED_MAX_BACKOFF_MS = 60_000;
/** The feed URL is renewed this long before it expires (see `renewAt`). */
export const FEED_RENEW_EARLY_MS = 60_000;
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

/** The change feed as the page holds it. */
interface OpenFeed {
  url: string;
  pollMs: number;
  /** When to ask for a fresh URL (the browser's clock). */
  renewAtMs: number;
}

/** When to renew a feed URL that expires at `expiresAt` (the server's Unix seconds), whatever the clocks say. */
export function renewAt(expiresAt: number, nowMs: number): number {
  const lifetime = expiresAt * 1000 - nowMs - FEED_RENEW_EARLY_MS;
  return nowMs + Math.min(15 * 60_000, Math.max(60_000, lifetime));
}

/** A 403 (the URL expired) or a 404 (the object went): a new URL from the API mends both. */
function feedGone(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 403 || error.status === 404);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const woken = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', woken);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', woken, { once: true });
  });
}

export function createFleetStore(api: FleetApi, options: FleetOptions = {}) {
  const tickMs = options.tickMs ?? TICK_MS;
  const jobLimit = options.jobLimit ?? JOB_LIMIT;
  const visibility = options.visibility ?? documentVisibility;
  const onScreen = options.onScreen ?? hostsOnScreen;
  const store = createStore(EMPTY);
  let started = false;
  let stopped = false;
  let stopWatchingVisibility: (() => void) | null = null;
  /** Ends the feed reads and the tick; a new one for each time the page shows. */
  let showing: AbortController | null = null;
  /** The last fleet version seen (from the API or the feed); null until the page has one. */
  let seen: number | null = null;
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
    const key = vmKey(agentId, vmUuid);
    update((s) => ({ sending: { ...s.sending, [key]: true }, actionErrors: without(s.actionErrors, key) }));
    try {
      const job = await api.vmAction(agentId, vmUuid, action);
      recordJob(job);
      follow(job);
      return job;
    } catch (error) {
      setActionError(agentId, vmUuid, errorMessage(error));
      return null;
    } finally {
      update((s) => ({ sending: without(s.sending, key) }));
    }
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

  /** A version from the API or the feed: anything but the last one seen means the lists are out of date. */
  function noteVersion(version: number): void {
    const moved = seen !== null && version !== seen;
    seen = version;
    if (moved && !stopped) void refreshAll();
  }

  async function openFeed(signal: AbortSignal): Promise<OpenFeed> {
    const answer = await api.fleetFeed(signal);
    if (!signal.aborted) noteVersion(answer.version); // a late answer to a tab since hidden is no news
    const now = Date.now();
    return { url: answer.feed.url, pollMs: answer.feed.poll_ms, renewAtMs: renewAt(answer.feed.expires_at, now) };
  }

  /** The version first (so a change made while the lists load is not missed), then the lists. */
  async function catchUp(signal: AbortSignal): Promise<OpenFeed | null> {
    seen = null;
    let feed: OpenFeed | null = null;
    try {
      feed = await openFeed(signal);
    } catch {
      // The lists still load; the feed is asked for again after FEED_RETRY_MS.
    }
    if (!signal.aborted) void refreshAll();
    return feed;
  }

  /** Reads the feed every poll_ms while the page shows; renews it before it expires and when it is gone. */
  async function followFeed(signal: AbortSignal): Promise<void> {
    let feed = await catchUp(signal);
    let failures = feed === null ? 1 : 0;
    let retryNow = false;
    const pause = () => {
      if (retryNow) return 0;
      if (failures === 0 && feed !== null) return feed.pollMs;
      return Math.min(FEED_MAX_BACKOFF_MS, FEED_RETRY_MS * 2 ** Math.max(0, failures - 1));
    };
    while (await sleep(pause(), signal)) {
      try {
        if (feed === null || Date.now() >= feed.renewAtMs) feed = await openFeed(signal);
        const version = await api.readFeed(feed.url, signal);
        if (signal.aborted) return;
        noteVersion(version);
        failures = 0;
        retryNow = false;
      } catch (error) {
        if (signal.aborted) return;
        if (feedGone(error)) feed = null;
        failures += 1;
        retryNow = feedGone(error) && failures === 1; // an expired URL: renew at once, once
      }
    }
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

  /** The page is on screen: fetch everything now, then keep it fresh. */
  function resume(): void {
    if (stopped || showing) return;
    showing = new AbortController();
    void followFeed(showing.signal);
    void tick(showing.signal);
  }

  /** The page is hidden (or gone): ask nothing until it shows again. */
  function pause(): void {
    showing?.abort();
    showing = null;
  }

  return {
    getState: store.get,
    subscribe: store.subscribe,
    start(): void {
      if (started || stopped) return;
      started = true;
      stopWatchingVisibility = whileVisible(visibility, resume, pause);
    },
    stop(): void {
      stopped = true;
      pause();
      stopWatchingVisibility?.();
      watchers.forEach((stopWatching) => stopWatching());
      watchers.clear();
    },
    refreshVms,
    runAction,
    runAndWait,
    readResult,
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
export type VmOps = Pick<FleetStore, 'runAction' | 'runAndWait' | 'readResult'>;

/** What a host card may ask of the store; each throws the server's refusal. */
export type HostOps = Pick<FleetStore, 'approveHost' | 'rejectHost' | 'deregisterHost' | 'saveLabels'> &
  Partial<Pick<FleetStore, 'readHostCapabilities'>>;
