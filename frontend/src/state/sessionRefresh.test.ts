import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSessionStore } from './session';
import { keepSessionFresh, refreshDelayMs } from './sessionRefresh';

const user = { user_id: 'u1', email: 'ops@example.test', role: 'operator' };

describe('refreshDelayMs', () => {
  it('renews 60 s before expiry, or halfway through a short-lived token', () => {
    expect(refreshDelayMs(900)).toBe(840_000);
    expect(refreshDelayMs(120)).toBe(60_000);
    expect(refreshDelayMs(60)).toBe(30_000);
    expect(refreshDelayMs(0)).toBe(0);
  });
});

describe('keepSessionFresh', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks for a new token 60 s before the current one expires, and again for the next', async () => {
    const session = createSessionStore();
    const refresh = vi.fn(async () => {
      session.logIn({ token: `tok-${refresh.mock.calls.length + 1}`, user, expiresIn: 900 });
      return true;
    });
    const stop = keepSessionFresh(session, refresh);
    session.logIn({ token: 'tok-1', user, expiresIn: 900 });

    await vi.advanceTimersByTimeAsync(839_999);
    expect(refresh).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(refresh).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(840_000);
    expect(refresh).toHaveBeenCalledTimes(2);
    stop();
  });

  it('does nothing without a session, and stops when the session ends', async () => {
    const refresh = vi.fn(async () => true);
    const session = createSessionStore();
    const stop = keepSessionFresh(session, refresh);
    await vi.advanceTimersByTimeAsync(2_000_000);
    session.logIn({ token: 'tok-1', user, expiresIn: 900 });
    session.logOut();
    await vi.advanceTimersByTimeAsync(2_000_000);

    expect(refresh).not.toHaveBeenCalled();
    stop();
  });

  it('tries again later when the server could not be reached', async () => {
    const refresh = vi.fn().mockRejectedValueOnce(new Error('offline')).mockResolvedValue(true);
    const session = createSessionStore();
    const stop = keepSessionFresh(session, refresh, 10_000);
    session.logIn({ token: 'tok-1', user, expiresIn: 900 });

    await vi.advanceTimersByTimeAsync(840_000);
    expect(refresh).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(refresh).toHaveBeenCalledTimes(2);
    stop();
  });

  it('stops when told to', async () => {
    const refresh = vi.fn(async () => true);
    const session = createSessionStore();
    const stop = keepSessionFresh(session, refresh);
    session.logIn({ token: 'tok-1', user, expiresIn: 900 });
    stop();

    await vi.advanceTimersByTimeAsync(2_000_000);
    expect(refresh).not.toHaveBeenCalled();
  });
});
