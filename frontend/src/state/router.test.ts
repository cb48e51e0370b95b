import { afterEach, describe, expect, it, vi } from 'vitest';
import { consolePath, consoleRouteOf, createRouter, pageOf, vmPath, vmRouteOf } from './router';

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

describe('vmRouteOf', () => {
  it("reads a VM page's host and VM, builds the paths it reads, and nothing else", () => {
    expect(vmRouteOf('/vms/ag_1/6695eb01-f6a4-8304-79aa-97f2502e193f/')).toEqual({
      agentId: 'ag_1',
      vm: '6695eb01-f6a4-8304-79aa-97f2502e193f',
    });
    expect(vmRouteOf(vmPath('ag_1', 'web 1/x'))).toEqual({ agentId: 'ag_1', vm: 'web 1/x' });
    expect(vmRouteOf('/vms/ag_1')).toBeNull();
    expect(vmRouteOf('/vms/ag_1/a/b')).toBeNull();
    expect(vmRouteOf('/vms/ag_1/%E0%A4%A')).toBeNull();
    expect(pageOf('/vms/ag_1/web1')).toBeNull();
  });
});

describe('consoleRouteOf', () => {
  it('reads a live console and a replay from their paths, and nothing else', () => {
    expect(consoleRouteOf('/consoles/abc123')).toEqual({ consoleId: 'abc123', replay: false });
    expect(consoleRouteOf('/consoles/abc123/replay/')).toEqual({ consoleId: 'abc123', replay: true });
    expect(consoleRouteOf('/consoles')).toBeNull();
    expect(consoleRouteOf('/consoles/abc/other')).toBeNull();
    expect(consoleRouteOf('/consoles/%E0%A4%A')).toBeNull();
    expect(pageOf('/consoles/abc123')).toBeNull();
  });

  it('builds the paths it reads', () => {
    expect(consoleRouteOf(consolePath('a/b'))).toEqual({ consoleId: 'a/b', replay: false });
    expect(consolePath('c1', true)).toBe('/consoles/c1/replay');
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
