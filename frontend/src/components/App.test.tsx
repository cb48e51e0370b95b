import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { createApi, SESSION_EXPIRED } from '../api';
import type { FleetOptions } from '../state/fleet';
import { createSessionStore } from '../state/session';
import { fakeServer } from '../test/fakeServer';
import { App } from './App';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function loggedInApp(options: FleetOptions = {}) {
  const server = fakeServer();
  const session = createSessionStore();
  const api = createApi({ fetch: server.fetch, session });
  render(<App api={api} session={session} fleetOptions={{ jobPollMs: 20, ...options }} />);
  fireEvent.input(document.querySelector('input[name=email]')!, { target: { value: 'ops@example.test' } });
  fireEvent.input(document.querySelector('input[name=password]')!, { target: { value: 'secret' } });
  fireEvent.submit(document.querySelector('form')!);
  await screen.findByTestId('vm-row');
  return { server, session };
}

describe('App', () => {
  it('shows the user, the host and its VMs after login', async () => {
    await loggedInApp();

    expect(screen.getByTestId('user-email').textContent).toBe('ops@example.test');
    const host = screen.getByTestId('host');
    expect(host.dataset.agentId).toBe('agt-1');
    expect(within(host).getByTestId('host-name').textContent).toBe('hv1');
    expect(within(host).getByTestId('host-status').textContent).toBe('online');
    expect(within(host).getByTestId('vm-state').textContent).toBe('shutoff');
  });

  it('starts a VM, follows the job and shows the new state without waiting for the 5 s refresh', async () => {
    const { server } = await loggedInApp();
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

  it('returns to the login page with a message when the session ends, and stops polling', async () => {
    const { server, session } = await loggedInApp({ refreshMs: 30 });

    server.state.token = 'tok-2';
    const error = await screen.findByTestId('login-error');
    expect(error.textContent).toBe(SESSION_EXPIRED);
    expect(session.token()).toBeNull();

    const count = server.state.requests.length;
    await sleep(150);
    expect(server.state.requests.length).toBe(count);
  });

  it('logs out: drops the token and stops polling', async () => {
    const { server, session } = await loggedInApp({ refreshMs: 30 });

    fireEvent.click(screen.getByTestId('logout'));
    expect(session.token()).toBeNull();
    expect(document.querySelector('input[name=email]')).not.toBeNull();
    expect(screen.queryByTestId('login-error')).toBeNull();

    await sleep(50);
    const count = server.state.requests.length;
    await sleep(150);
    expect(server.state.requests.length).toBe(count);
  });
});
