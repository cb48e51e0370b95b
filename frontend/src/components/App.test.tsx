import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { SESSION_EXPIRED } from '../api';
import { fakeServer } from '../test/fakeServer';
import { asAdmin, goTo, loggedInApp, openApp, submitLogin } from '../test/renderApp';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('App: hosts', () => {
  it('shows the user, the host and its VMs after login', async () => {
    await loggedInApp();
    await screen.findByTestId('vm-row');

    expect(screen.getByTestId('user-email').textContent).toBe('ops@example.test');
    const host = screen.getByTestId('host');
    expect(host.dataset.agentId).toBe('agt-1');
    expect(within(host).getByTestId('host-name').textContent).toBe('hv1');
    expect(within(host).getByTestId('host-status').textContent).toBe('online');
    expect(within(host).getByTestId('vm-state').textContent).toBe('shutoff');
  });

  it('starts a VM, follows the job and shows the new state without waiting for the feed or the tick', async () => {
    const { server } = await loggedInApp();
    await screen.findByTestId('vm-row');
    const started = Date.now();

    fireEvent.click(screen.getByRole('button', { name: 'Start web1' }));

    await waitFor(() => expect(screen.getByTestId('vm-state').textContent).toBe('running'), { timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(1000);
    const job = screen.getByTestId('job-row');
    expect(job.dataset.jobId).toBe('job-1');
    expect(within(job).getByTestId('job-status').textContent).toBe('succeeded');
    expect(job.textContent).toContain('web1');
    expect(server.state.requests).toContain('POST /api/agents/agt-1/vms/11111111-2222-4333-8444-555555555555/actions');
  });
});

describe('App: sessions', () => {
  it('returns to the login page with a message when the session ends, and stops polling', async () => {
    const { server, session } = await loggedInApp({ fleetOptions: { tickMs: 30 } });

    server.endSessions();
    const error = await screen.findByTestId('login-error');
    expect(error.textContent).toBe(SESSION_EXPIRED);
    expect(session.token()).toBeNull();

    const count = server.state.requests.length;
    await sleep(150);
    expect(server.state.requests.length).toBe(count);
  });

  it('renews an expired access token with one refresh and carries on', async () => {
    const { server, session } = await loggedInApp({ fleetOptions: { tickMs: 30 } });
    await screen.findByTestId('vm-row');
    const before = session.token();
    const refreshes = server.state.refreshCount; // the one on page load

    server.expireAccessTokens();
    await waitFor(() => expect(session.token()).not.toBe(before));
    await sleep(100);

    expect(screen.getByTestId('vm-row')).toBeTruthy();
    expect(screen.queryByTestId('login-error')).toBeNull();
    expect(server.state.refreshCount).toBe(refreshes + 1);
  });

  it('keeps the session across a reload through the refresh cookie', async () => {
    const { server, view } = await loggedInApp();
    view.unmount();

    const reloaded = openApp({ server });
    await screen.findByTestId('vm-row');

    expect(screen.getByTestId('user-email').textContent).toBe('ops@example.test');
    expect(document.querySelector('input[name=password]')).toBeNull();
    expect(server.count('POST /api/auth/login')).toBe(1);
    expect(server.count('POST /api/auth/refresh')).toBe(2); // one per page load
    expect(reloaded.session.token()).not.toBeNull();
  });

  it('reloads onto the page it was showing', async () => {
    const { server, view } = await loggedInApp();
    goTo('account');
    view.unmount();

    openApp({ server, path: '/account' });
    await screen.findByTestId('password-form');
  });

  it('shows the login page, without a notice, when there is no session to restore', async () => {
    const { server } = openApp();

    await waitFor(() => expect(document.querySelector('input[name=email]')).not.toBeNull());
    expect(screen.queryByTestId('login-error')).toBeNull();
    expect(server.count('POST /api/auth/refresh')).toBe(1);
  });

  it('renews the token silently shortly before it expires', async () => {
    const server = fakeServer();
    server.state.expiresIn = 0.2; // renewed at half its life for short tokens: 100 ms
    const { session } = await loggedInApp({ server });
    const first = session.token();

    await waitFor(() => expect(server.state.refreshCount).toBeGreaterThanOrEqual(2), { timeout: 1000 });
    expect(session.token()).not.toBe(first);
    expect(server.state.requests.filter((r) => r.endsWith('/api/agents'))).not.toHaveLength(0);
    expect(screen.queryByTestId('login-error')).toBeNull();
  });

  it('logs out: tells the server, drops the token and stops polling', async () => {
    const { server, session } = await loggedInApp({ fleetOptions: { tickMs: 30 } });
    goTo('audit');
    goTo('hosts');

    fireEvent.click(screen.getByTestId('logout'));
    await waitFor(() => expect(session.token()).toBeNull());
    expect(server.count('POST /api/auth/logout')).toBe(1);
    expect(server.state.cookie).toBeNull();
    expect(document.querySelector('input[name=email]')).not.toBeNull();
    expect(screen.queryByTestId('login-error')).toBeNull();
    expect(window.location.pathname).toBe('/');

    await sleep(50);
    const count = server.state.requests.length;
    await sleep(150);
    expect(server.state.requests.length).toBe(count);
  });

  it('shows a throttled login with how long to wait', async () => {
    const { server } = openApp();
    server.state.throttleSeconds = 300;

    await submitLogin();
    const error = await screen.findByTestId('login-error');
    expect(error.textContent).toBe('Too many failed logins. Try again in 5 minutes.');
  });
});

describe('App: navigation', () => {
  it('links every page, changes the address, and shows the page', async () => {
    await loggedInApp();

    expect(screen.queryByTestId('nav-users')).toBeNull();
    goTo('jobs');
    expect(window.location.pathname).toBe('/jobs');
    await screen.findByTestId('job-filters');
    await waitFor(() => expect(document.title).toBe('Jobs · Fleetvisor'));
    goTo('tokens');
    expect(window.location.pathname).toBe('/enrollment-tokens');
    await screen.findByTestId('token-form');
    goTo('account');
    expect(window.location.pathname).toBe('/account');
    await screen.findByTestId('password-form');
    expect(screen.getByTestId('nav-account').getAttribute('aria-current')).toBe('page');
    goTo('audit');
    await screen.findByTestId('audit-filters');
    goTo('hosts');
    expect(window.location.pathname).toBe('/');
    await screen.findByTestId('host');
  });

  it('follows the browser back button', async () => {
    await loggedInApp();
    goTo('account');
    await screen.findByTestId('password-form');

    window.history.back();
    await screen.findByTestId('host');
    expect(screen.queryByTestId('password-form')).toBeNull();
  });

  it('hides the Users page from operators, even at its address', async () => {
    const { server } = await loggedInApp({ path: '/users' });

    expect(screen.queryByTestId('nav-users')).toBeNull();
    expect(screen.getByTestId('not-found').textContent).toContain('Only admins manage users.');
    expect(document.querySelector('[data-testid=user-form]')).toBeNull();
    expect(server.count('GET /api/users')).toBe(0);
  });

  it('shows the Users page to admins', async () => {
    await loggedInApp(asAdmin);

    goTo('users');
    expect(window.location.pathname).toBe('/users');
    await screen.findAllByTestId('user-row');
  });

  it('says so for an address it has no page for', async () => {
    await loggedInApp({ path: '/no/such/page' });

    expect(screen.getByTestId('not-found').textContent).toContain('Page not found');
  });
});
