// The fake of GET /api/changes: a version the test bumps, and long polls
// held until it moves or their wait passes (on the test's timers).

export function fakeChanges() {
  let version = 0;
  const waiting = new Set<() => void>();
  return {
    get version() {
      return version;
    },
    /** Something changed behind the page's back: every held poll answers now. */
    bump(): void {
      version += 1;
      waiting.forEach((answer) => answer());
    },
    /** The version once it differs from `after` (at once without one), or after `waitS` seconds. */
    wait(after: number | null, waitS: number, signal?: AbortSignal): Promise<number> {
      return new Promise((resolve, reject) => {
        if (after !== version) {
          resolve(version);
          return;
        }
        const answer = () => {
          clearTimeout(timer);
          waiting.delete(answer);
          resolve(version);
        };
        const timer = setTimeout(answer, waitS * 1000);
        waiting.add(answer);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          waiting.delete(answer);
          reject(new DOMException('The poll was stopped.', 'AbortError'));
        });
      });
    },
    /** Polls being held (for tests that check nothing is left waiting). */
    held: () => waiting.size,
  };
}
