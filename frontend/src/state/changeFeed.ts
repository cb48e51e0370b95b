// Following the fleet's change feed while a page is on screen; shared by
// every page that shows the fleet (the hosts page, the fleet list).
//
// - While the page is on screen it reads the change feed: a tiny object,
//   `{"version": N}`, that the server rewrites whenever something changed
//   behind the page's back (a VM stopped with virsh, a guest powered off, a
//   host enrolled or came back). The page GETs it straight from the bucket
//   every `poll_ms` (1.5 s) through a presigned URL that GET /api/changes
//   hands out, with no header of ours (no CORS preflight) and the browser's
//   cache off. When the version differs from the last one seen (any
//   difference, not only a larger one), `refresh` is called: such a change
//   shows within two seconds, and costs no Lambda while nothing changes. The
//   URL is renewed a minute before it expires and at once on a 403 or 404;
//   failures back off (FEED_RETRY_MS, doubling, up to a minute).
// - A hidden tab asks nothing at all. When the tab shows again the feed is
//   asked for first (the version, so a change made while the lists load is
//   not missed), then `refresh` runs, and the reads resume. `whileShown` runs
//   beside the reads for as long as the page shows (its signal aborts when
//   the page hides or stops).

import { ApiError, type Api } from '../api';

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

export const FEED_RETRY_MS = 5000;
export const FEED_MAX_BACKOFF_MS = 60_000;
/** The feed URL is renewed this long before it expires (see `renewAt`). */
export const FEED_RENEW_EARLY_MS = 60_000;

export type FeedApi = Pick<Api, 'fleetFeed' | 'readFeed'>;

export interface FeedOptions {
  visibility?: PageVisibility;
  /** The page's lists may be out of date: fetch them again. */
  refresh: () => void;
  /** Runs while the page shows, until `signal` aborts (the hosts page's ping tick). */
  whileShown?: (signal: AbortSignal) => void;
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
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
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

/** Follows the feed from `start()` to `stop()`, only while the page shows. */
export function createChangeFeed(api: FeedApi, options: FeedOptions) {
  const visibility = options.visibility ?? documentVisibility;
  let started = false;
  let stopped = false;
  let stopWatchingVisibility: (() => void) | null = null;
  /** Ends the feed reads; a new one for each time the page shows. */
  let showing: AbortController | null = null;
  /** The last fleet version seen (from the API or the feed); null until the page has one. */
  let seen: number | null = null;

  /** A version from the API or the feed: anything but the last one seen means the lists are out of date. */
  function noteVersion(version: number): void {
    const moved = seen !== null && version !== seen;
    seen = version;
    if (moved && !stopped) options.refresh();
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
    if (!signal.aborted) options.refresh();
    return feed;
  }

  /** Reads the feed every poll_ms while the page shows; renews it before it expires and when it is gone. */
  async function follow(signal: AbortSignal): Promise<void> {
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

  /** The page is on screen: fetch everything now, then keep it fresh. */
  function resume(): void {
    if (stopped || showing) return;
    showing = new AbortController();
    void follow(showing.signal);
    options.whileShown?.(showing.signal);
  }

  /** The page is hidden (or gone): ask nothing until it shows again. */
  function pause(): void {
    showing?.abort();
    showing = null;
  }

  return {
    start(): void {
      if (started || stopped) return;
      started = true;
      stopWatchingVisibility = whileVisible(visibility, resume, pause);
    },
    stop(): void {
      stopped = true;
      pause();
      stopWatchingVisibility?.();
    },
  };
}
