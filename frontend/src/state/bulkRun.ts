// Bulk actions on the fleet list: one action on many VMs, each its own job,
// with a live summary (n succeeded, n failed, n running, n waiting) that
// links each VM to its job.
//
// - At most PER_HOST jobs of a run are unfinished on one host at a time (a
//   host's agent works through them; a hundred at once would only queue
//   there), and at most IN_FLIGHT across all hosts, so a run over 500 hosts
//   polls a bounded number of jobs. A VM's next job on a host is sent when
//   one of its host's jobs ends.
// - A job is followed with watchJob until it is final; a refused request
//   (4xx) fails that VM at once with the server's message. Label changes are
//   no job on the server (one PATCH each) but take the same path, so the
//   summary reads the same.
// - stop() (the page goes) sends nothing more and stops following.

import { errorMessage } from '../api';
import { isFinal, type FleetVm, type Job } from '../types';
import { jobFailure, vmKey } from './fleet';
import { watchJob } from './jobWatch';
import { createStore } from './store';

export const PER_HOST = 4;
export const IN_FLIGHT = 32;
export const BULK_POLL_MS = 1000;

/** `skipped`: the action does not apply to the VM as it is (start on a running VM); nothing was sent. */
export type BulkStatus = 'waiting' | 'sending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface BulkItem {
  key: string;
  vm: FleetVm;
  status: BulkStatus;
  job: Job | null;
  /** Why it failed, in words. */
  error: string;
}

export interface BulkRun {
  id: number;
  /** What was asked, e.g. "Start" or "Snapshot nightly". */
  title: string;
  items: BulkItem[];
}

export interface BulkCounts {
  succeeded: number;
  failed: number;
  /** Sent, or being sent, and not final yet. */
  running: number;
  waiting: number;
  skipped: number;
}

export function countsOf(run: BulkRun): BulkCounts {
  const counts: BulkCounts = { succeeded: 0, failed: 0, running: 0, waiting: 0, skipped: 0 };
  for (const item of run.items) {
    if (item.status === 'sending') counts.running += 1;
    else counts[item.status] += 1;
  }
  return counts;
}

export function isDone(run: BulkRun): boolean {
  return run.items.every((item) => item.status === 'succeeded' || item.status === 'failed' || item.status === 'skipped');
}

/** Sends one VM's part of a run: its job, or null when the change took effect without one (labels). */
export type BulkStep = (vm: FleetVm) => Promise<Job | null>;

export interface BulkOptions {
  getJob: (jobId: string) => Promise<Job>;
  perHost?: number;
  inFlight?: number;
  pollMs?: number;
  /** A VM's job has ended (succeeded or not): e.g. to show the VM's new state at once. */
  onJobEnded?: (vm: FleetVm, job: Job) => void;
}

/** A counting semaphore: `take` resolves when a slot is free. */
function slots(size: number) {
  let free = size;
  const queue: Array<() => void> = [];
  return {
    take: () =>
      new Promise<void>((resolve) => {
        if (free > 0) {
          free -= 1;
          resolve();
        } else queue.push(resolve);
      }),
    give(): void {
      const next = queue.shift();
      if (next) next();
      else free += 1;
    },
  };
}

export function createBulkRuns(options: BulkOptions) {
  const perHost = options.perHost ?? PER_HOST;
  const store = createStore<{ runs: BulkRun[] }>({ runs: [] });
  const global = slots(options.inFlight ?? IN_FLIGHT);
  const watchers = new Set<() => void>();
  let stopped = false;
  let nextId = 1;
  let notifying = false;

  /** Changes an item in place (a run may hold 10,000) and tells the listeners once per task. */
  function setItem(item: BulkItem, change: Partial<BulkItem>): void {
    if (stopped) return;
    Object.assign(item, change);
    if (notifying) return;
    notifying = true;
    queueMicrotask(() => {
      notifying = false;
      if (!stopped) store.update((s) => ({ runs: [...s.runs] }));
    });
  }

  function finalJob(job: Job): Promise<Job> {
    if (isFinal(job.status)) return Promise.resolve(job);
    return new Promise((resolve) => {
      const stop = watchJob(job.job_id, {
        getJob: options.getJob,
        onUpdate: () => {},
        onFinal: (final) => {
          watchers.delete(stop);
          resolve(final);
        },
        intervalMs: options.pollMs ?? BULK_POLL_MS,
      });
      watchers.add(stop);
    });
  }

  async function runOne(item: BulkItem, step: BulkStep): Promise<void> {
    const { vm } = item;
    await global.take();
    try {
      if (stopped) return;
      setItem(item, { status: 'sending' });
      const job = await step(vm);
      if (job === null) return setItem(item, { status: 'succeeded' });
      setItem(item, { status: 'running', job });
      const final = await finalJob(job);
      if (!stopped) options.onJobEnded?.(vm, final);
      const failure = jobFailure(final);
      setItem(item, { status: failure === null ? 'succeeded' : 'failed', job: final, error: failure ?? '' });
    } catch (error) {
      setItem(item, { status: 'failed', error: errorMessage(error) });
    } finally {
      global.give();
    }
  }

  /** One host's share: `perHost` workers over its queue. */
  async function runHost(queue: BulkItem[], step: BulkStep): Promise<void> {
    const worker = async () => {
      for (let item = queue.shift(); item !== undefined && !stopped; item = queue.shift()) await runOne(item, step);
    };
    await Promise.all(Array.from({ length: Math.min(perHost, queue.length) }, worker));
  }

  return {
    getState: store.get,
    subscribe: store.subscribe,
    /** Starts `step` on every VM of `vms` that `applies` allows (the others are skipped); resolves once every one has ended. */
    run(title: string, vms: FleetVm[], step: BulkStep, applies: (vm: FleetVm) => boolean = () => true): Promise<void> {
      const id = nextId++;
      const items: BulkItem[] = vms.map((vm) => ({
        key: vmKey(vm.agent_id, vm.uuid),
        vm,
        status: applies(vm) ? 'waiting' : 'skipped',
        job: null,
        error: applies(vm) ? '' : `Not sent: the VM is ${vm.state}.`,
      }));
      store.update((s) => ({ runs: [{ id, title, items }, ...s.runs] }));
      const byHost = new Map<string, BulkItem[]>();
      for (const item of items.filter((it) => it.status === 'waiting')) {
        const queue = byHost.get(item.vm.agent_id);
        if (queue) queue.push(item);
        else byHost.set(item.vm.agent_id, [item]);
      }
      return Promise.all([...byHost.values()].map((queue) => runHost(queue, step))).then(() => undefined);
    },
    /** Takes a finished run's summary off the page. */
    dismiss(runId: number): void {
      store.update((s) => ({ runs: s.runs.filter((run) => run.id !== runId) }));
    },
    stop(): void {
      stopped = true;
      watchers.forEach((stop) => stop());
      watchers.clear();
    },
  };
}

export type BulkRuns = ReturnType<typeof createBulkRuns>;
