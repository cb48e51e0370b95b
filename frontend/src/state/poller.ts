// Small building blocks that keep requests from piling up.

/**
 * Wraps `task` so that at most one run is in flight. A call made while it
 * runs does not start a second request; it asks for one more run right after
 * the current one, so its caller still sees data fetched after it asked.
 */
export function coalesce(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;

  async function loop(): Promise<void> {
    do {
      again = false;
      await task();
    } while (again);
  }

  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = loop().finally(() => {
      running = null;
    });
    return running;
  };
}

/**
 * Runs `task` now and then `intervalMs` after each run finishes (never two at
 * once). `intervalMs` may be a function, asked after each run, for a pace that
 * follows what the run found. Returns a function that stops it; a run in
 * flight is not awaited.
 */
export function startPoller(task: () => Promise<void>, intervalMs: number | (() => number)): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const nextDelay = typeof intervalMs === 'function' ? intervalMs : () => intervalMs;

  async function tick(): Promise<void> {
    try {
      await task();
    } finally {
      if (!stopped) timer = setTimeout(tick, nextDelay());
    }
  }

  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
