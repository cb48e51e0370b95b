// The silent refresh: a new access token shortly before the current one
// expires, so an open page never meets a 401 in normal use.

import type { SessionStore } from './session';

/** How long before expiry the token is renewed. */
export const REFRESH_LEAD_S = 60;
/** After a failed attempt (network, server fault), try again this much later. */
export const RETRY_MS = 10_000;

/** When to renew a token valid for `expiresIn` s: 60 s early, or halfway for short ones. */
export function refreshDelayMs(expiresIn: number): number {
  const lead = Math.min(REFRESH_LEAD_S, expiresIn / 2);
  return Math.max(0, Math.round((expiresIn - lead) * 1000));
}

/**
 * Renews each token the session receives `refreshDelayMs` after it arrives.
 * `refresh` stores the new token in the session itself (which schedules the
 * next one) and ends the session when the server refuses; a throw means it
 * could not ask, and it is tried again after `retryMs`. Returns a stop function.
 */
export function keepSessionFresh(
  session: SessionStore,
  refresh: () => Promise<boolean>,
  retryMs = RETRY_MS,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let scheduledFor: string | null = null;

  function attempt(token: string): void {
    refresh().catch(() => {
      if (session.token() === token) timer = setTimeout(() => attempt(token), retryMs);
    });
  }

  function schedule(): void {
    const current = session.snapshot().session;
    if ((current?.token ?? null) === scheduledFor) return;
    clearTimeout(timer);
    scheduledFor = current?.token ?? null;
    if (current !== null) timer = setTimeout(() => attempt(current.token), refreshDelayMs(current.expiresIn));
  }

  const unsubscribe = session.subscribe(schedule);
  schedule();
  return () => {
    unsubscribe();
    clearTimeout(timer);
  };
}
