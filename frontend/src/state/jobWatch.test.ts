import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { aJob } from '../test/fixtures';
import type { Job } from '../types';
import { watchJob } from './jobWatch';

/** getJob answering each entry in turn (an Error is thrown), then the last one forever. */
function answers(...steps: Array<Job | Error>) {
  return vi.fn(async () => {
    const step = steps.length > 1 ? steps.shift() : steps[0];
    if (step instanceof Error) throw step;
    return step as Job;
  });
}

describe('watchJob', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('polls every 250 ms and stops once the job is final', async () => {
    const getJob = answers(aJob({ status: 'claimed' }), aJob({ status: 'running' }), aJob({ status: 'succeeded' }));
    const onUpdate = vi.fn();
    const onFinal = vi.fn();
    watchJob('job-1', { getJob, onUpdate, onFinal });

    await vi.advanceTimersByTimeAsync(249);
    expect(getJob).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(getJob).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(getJob).toHaveBeenCalledTimes(3);
    expect(onFinal).toHaveBeenCalledExactlyOnceWith(aJob({ status: 'succeeded' }));
    expect(onUpdate.mock.calls.map(([job]) => job.status)).toEqual(['claimed', 'running', 'succeeded']);

    await vi.advanceTimersByTimeAsync(5000);
    expect(getJob).toHaveBeenCalledTimes(3);
  });

  it('asks nothing while the page is not seen, and takes up again when it is', async () => {
    const getJob = answers(aJob({ status: 'running' }));
    let seen = false;
    watchJob('job-1', { getJob, onUpdate: vi.fn(), onFinal: vi.fn(), visible: () => seen });

    await vi.advanceTimersByTimeAsync(2000);
    expect(getJob).not.toHaveBeenCalled();
    seen = true;
    await vi.advanceTimersByTimeAsync(250);
    expect(getJob).toHaveBeenCalledTimes(1);
  });

  it('retries through a transient error', async () => {
    const getJob = answers(new ApiError(0, 'network_error', 'down'), aJob({ status: 'failed' }));
    const onFinal = vi.fn();
    watchJob('job-1', { getJob, onUpdate: vi.fn(), onFinal });

    await vi.advanceTimersByTimeAsync(500);
    expect(onFinal).toHaveBeenCalledOnce();
  });

  it('gives up on a job that is gone or a session that ended', async () => {
    for (const status of [404, 401]) {
      const getJob = answers(new ApiError(status, 'x', 'x'));
      watchJob('job-1', { getJob, onUpdate: vi.fn(), onFinal: vi.fn() });
      await vi.advanceTimersByTimeAsync(2000);
      expect(getJob).toHaveBeenCalledTimes(1);
    }
  });

  it('stops when told, even with a request in flight', async () => {
    let answer: (job: Job) => void = () => {};
    const getJob = vi.fn(() => new Promise<Job>((resolve) => (answer = resolve)));
    const onUpdate = vi.fn();
    const stop = watchJob('job-1', { getJob, onUpdate, onFinal: vi.fn() });

    await vi.advanceTimersByTimeAsync(250);
    stop();
    answer(aJob({ status: 'running' }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(getJob).toHaveBeenCalledTimes(1);
    expect(onUpdate).not.toHaveBeenCalled();
  });
});
