// Following one job until it reaches a final state.

import { ApiError } from '../api';
import { isFinal, type Job } from '../types';

export interface WatchOptions {
  getJob: (jobId: string) => Promise<Job>;
  onUpdate: (job: Job) => void;
  /** Called once, with the job in its final state. */
  onFinal: (job: Job) => void;
  intervalMs?: number;
  /** Whether the page is seen; while not, no request is made (the next tick asks again). */
  visible?: () => boolean;
}

export const JOB_POLL_MS = 250;

function isGone(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 401 || error.status === 404);
}

/**
 * Polls GET /api/jobs/{id} every `intervalMs` (one request at a time) until
 * the job is final, the job is gone, the session ends, or `stop()` is called.
 * Other errors (network, 5xx) are retried on the next tick.
 */
export function watchJob(jobId: string, options: WatchOptions): () => void {
  const intervalMs = options.intervalMs ?? JOB_POLL_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  async function check(): Promise<boolean> {
    try {
      const job = await options.getJob(jobId);
      if (stopped) return true;
      options.onUpdate(job);
      if (!isFinal(job.status)) return false;
      options.onFinal(job);
      return true;
    } catch (error) {
      return isGone(error);
    }
  }

  async function tick(): Promise<void> {
    const done = (options.visible?.() ?? true) ? await check() : false;
    if (!done && !stopped) timer = setTimeout(tick, intervalMs);
  }

  timer = setTimeout(tick, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
