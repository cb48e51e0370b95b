import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { coalesce, startPoller } from './poller';

/** A task whose runs finish only when the test says so. */
function controlledTask() {
  const finishers: Array<() => void> = [];
  const task = vi.fn(() => new Promise<void>((resolve) => finishers.push(resolve)));
  return { task, finishNext: () => finishers.shift()?.() };
}

describe('coalesce', () => {
  it('runs one request at a time and one more for callers who asked meanwhile', async () => {
    const { task, finishNext } = controlledTask();
    const refresh = coalesce(task);

    const first = refresh();
    void refresh();
    void refresh();
    expect(task).toHaveBeenCalledTimes(1);

    finishNext();
    await vi.waitFor(() => expect(task).toHaveBeenCalledTimes(2));
    finishNext();
    await first;
    expect(task).toHaveBeenCalledTimes(2);
  });
});

describe('startPoller', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits for a slow run before scheduling the next, and stops when told', async () => {
    const { task, finishNext } = controlledTask();
    const stop = startPoller(task, 1000);
    expect(task).toHaveBeenCalledTimes(1);

    await vi.advanceTimersByTimeAsync(5000);
    expect(task).toHaveBeenCalledTimes(1);

    finishNext();
    await vi.advanceTimersByTimeAsync(1000);
    expect(task).toHaveBeenCalledTimes(2);

    stop();
    finishNext();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(task).toHaveBeenCalledTimes(2);
  });

  it('asks a pace function after each run how long to wait', async () => {
    const task = vi.fn(async () => {});
    let pace = 100;
    const stop = startPoller(task, () => pace);
    await vi.advanceTimersByTimeAsync(100);
    expect(task).toHaveBeenCalledTimes(2);

    pace = 1000;
    await vi.advanceTimersByTimeAsync(100); // the wait already set was 100 ms
    expect(task).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(999);
    expect(task).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(task).toHaveBeenCalledTimes(4);
    stop();
  });
});
