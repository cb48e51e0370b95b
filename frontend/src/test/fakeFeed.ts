// The fake of the fleet's change feed: GET /api/changes hands out a URL to
// an object in "the bucket" holding the version; the test bumps the version,
// expires the URLs handed out so far (a 403, as S3 answers), and counts reads.

import { vi } from 'vitest';
import { ApiError } from '../api';
import type { FleetFeed } from '../types';

/** Where feed URLs point: another origin, as S3 is. */
export const FEED_ORIGIN = 'https://feed-bucket.example.test';

export function fakeFeed() {
  let version = 0;
  /** URLs of an older generation have expired. */
  let generation = 0;
  let reads = 0;
  return {
    /** What the answer tells the page: read the feed this often. */
    pollMs: 1500,
    get version() {
      return version;
    },
    /** Something changed behind the page's back. */
    bump(): void {
      version += 1;
    },
    /** The version becomes this, e.g. a counter that went back (a store restored from a backup). */
    set(to: number): void {
      version = to;
    },
    /** Every URL handed out so far answers 403 from now on. */
    expire(): void {
      generation += 1;
    },
    /** GET /api/changes: the version now and a feed URL that lasts `lifetimeS`. */
    answer(nowMs: number = Date.now(), lifetimeS = 900): FleetFeed {
      const url = `${FEED_ORIGIN}/changes/u1?X-Amz-Expires=${lifetimeS}&X-Amz-Signature=g${generation}`;
      return { version, feed: { url, expires_at: Math.floor(nowMs / 1000) + lifetimeS, poll_ms: this.pollMs } };
    },
    /** What the bucket answers a GET of `url`: its status and, when 200, the version. */
    read(url: string): { status: number; version: number } {
      reads += 1;
      return url.endsWith(`X-Amz-Signature=g${generation}`) ? { status: 200, version } : { status: 403, version: -1 };
    },
    /** GETs of feed URLs so far. */
    reads: () => reads,
  };
}

/** The API's two feed calls over a fake feed, as the stores' tests give them (a 403 as an ApiError). */
export function feedCalls(feed: ReturnType<typeof fakeFeed>) {
  return {
    fleetFeed: vi.fn(async (_signal?: AbortSignal) => feed.answer()),
    readFeed: vi.fn(async (url: string, _signal?: AbortSignal) => {
      const read = feed.read(url);
      if (read.status !== 200) throw new ApiError(read.status, 'feed_unavailable', 'No.');
      return read.version;
    }),
  };
}
