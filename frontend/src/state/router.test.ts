import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRouter, pageOf } from './router';

describe('pageOf', () => {
  it('knows each page by its path, with or without a trailing slash', () => {
    expect(pageOf('/')).toBe('hosts');
    expect(pageOf('/hosts')).toBe('hosts');
    expect(pageOf('/jobs')).toBe('jobs');
    expect(pageOf('/enrollment-tokens')).toBe('tokens');
    expect(pageOf('/account/')).toBe('account');
    expect(pageOf('/audit')).toBe('audit');
    expect(pageOf('/users')).toBe('users');
    expect(pageOf('/api/agents')).toBeNull();
  });
});

describe('router', () => {
  afterEach(() => window.history.replaceState(null, '', '/'));

  it('pushes a history entry and tells its listeners', () => {
    const router = createRouter();
    const listener = vi.fn();
    const unsubscribe = router.subscribe(listener);
    const depth = window.history.length;

    router.navigate('/audit');
    expect(router.path()).toBe('/audit');
    expect(window.history.length).toBe(depth + 1);
    expect(listener).toHaveBeenCalledTimes(1);

    router.navigate('/audit');
    expect(listener).toHaveBeenCalledTimes(1);
    unsubscribe();
  });

  it('follows the back button while it has listeners', () => {
    const router = createRouter();
    const listener = vi.fn();
    const unsubscribe = router.subscribe(listener);
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect(listener).toHaveBeenCalledTimes(1);

    unsubscribe();
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect(listener).toHaveBeenCalledTimes(1);
  });
});
