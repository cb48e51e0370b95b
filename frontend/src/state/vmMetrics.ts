// The charts of one VM's page, and what they cost while someone looks.
//
// - The range's series (GET …/metrics) is fetched when the page shows or the
//   range changes, then every `refreshMs` (5 min): the host uploads a batch
//   about every hour, and the live object has the points since, so more
//   would only spend requests.
// - While the page is visible it asks the host to sample this VM live
//   (POST …/metrics/live, every `watchMs`, 60 s: the host samples for 90 s
//   per ask) and reads the host's live object straight from the bucket every
//   `liveReadMs` (20 s, as often as the host puts it): the fine samples and
//   the points it has not uploaded yet, merged into the charts.
// - A hidden tab asks nothing at all: the host stops sampling within 90 s.
//   bench/metrics.py prices an open page.

import { errorMessage } from '../api';
import type { Api } from '../api';
import type { LiveMetrics, MetricsRange, VmMetrics } from '../vmMetrics';
import { documentVisibility, whileVisible, type PageVisibility } from './changeFeed';
import { startPoller } from './poller';
import { createStore } from './store';

export type MetricsApi = Pick<Api, 'vmMetrics' | 'watchVmMetrics' | 'readLiveMetrics'>;

export interface VmMetricsOptions {
  refreshMs?: number;
  watchMs?: number;
  liveReadMs?: number;
  visibility?: PageVisibility;
}

export interface VmMetricsState {
  range: MetricsRange;
  answer: VmMetrics | null;
  live: LiveMetrics | null;
  /** Until when (Unix seconds) the host samples live; null: not asked, or it cannot (no doorbell). */
  liveUntil: number | null;
  error: string;
}

export const REFRESH_MS = 300_000;
export const WATCH_MS = 60_000;
export const LIVE_READ_MS = 20_000;

export function createVmMetricsStore(api: MetricsApi, agentId: string, vmUuid: string, options: VmMetricsOptions = {}) {
  const visibility = options.visibility ?? documentVisibility;
  const store = createStore<VmMetricsState>({ range: 'hour', answer: null, live: null, liveUntil: null, error: '' });
  let liveUrl: string | null = null;
  let stops: Array<() => void> = [];
  let stopWatchingVisibility: (() => void) | null = null;
  let stopped = false;
  /** Bumped by each range change, so an answer for the range before is dropped. */
  let asked = 0;

  async function loadSeries(): Promise<void> {
    const ticket = ++asked;
    const range = store.get().range;
    try {
      const answer = await api.vmMetrics(agentId, vmUuid, range);
      if (!stopped && ticket === asked) store.update(() => ({ answer, error: '' }));
    } catch (error) {
      if (!stopped && ticket === asked) store.update(() => ({ error: errorMessage(error) }));
    }
  }

  async function watch(): Promise<void> {
    try {
      const answer = await api.watchVmMetrics(agentId, vmUuid);
      liveUrl = answer.live?.url ?? null;
      if (!stopped) store.update(() => ({ liveUntil: answer.until }));
    } catch {
      // The charts still show the uploaded batches; the next ask may do better.
    }
  }

  async function readLive(): Promise<void> {
    if (liveUrl === null) return;
    try {
      const live = await api.readLiveMetrics(liveUrl);
      if (!stopped && live !== null && live.vm_uuid === vmUuid) store.update(() => ({ live }));
    } catch {
      // An unreadable or expired object: the next ask hands out a fresh URL.
    }
  }

  function resume(): void {
    if (stopped || stops.length > 0) return;
    stops = [
      startPoller(loadSeries, options.refreshMs ?? REFRESH_MS),
      startPoller(watch, options.watchMs ?? WATCH_MS),
      startPoller(readLive, options.liveReadMs ?? LIVE_READ_MS),
    ];
  }

  function pause(): void {
    stops.forEach((stop) => stop());
    stops = [];
  }

  return {
    getState: store.get,
    subscribe: store.subscribe,
    start(): void {
      if (stopped || stopWatchingVisibility) return;
      stopWatchingVisibility = whileVisible(visibility, resume, pause);
    },
    stop(): void {
      stopped = true;
      pause();
      stopWatchingVisibility?.();
    },
    setRange(range: MetricsRange): void {
      if (range === store.get().range) return;
      store.update(() => ({ range, answer: null }));
      void loadSeries();
    },
  };
}

export type VmMetricsStore = ReturnType<typeof createVmMetricsStore>;
