import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer } from '../test/fakeServer';
import { aVm } from '../test/fixtures';
import { loggedInApp } from '../test/renderApp';

const VM = aVm({ state: 'running', state_reason: 'booted', updated_ms: Date.now() - 5 * 60_000 });

function serverWithRunningVm() {
  const server = fakeServer();
  server.state.vms = [VM];
  return server;
}

describe('VM page', () => {
  it('opens from the VM row and shows its state, facts, graphs and actions', async () => {
    const server = serverWithRunningVm();
    await loggedInApp({ server });
    fireEvent.click(await screen.findByTestId('vm-page-link'));
    expect(window.location.pathname).toBe(`/vms/agt-1/${VM.uuid}`);
    const page = await screen.findByTestId('vm-page');
    expect(within(page).getByTestId('vm-page-name').textContent).toBe('web1');
    expect(within(page).getByTestId('vm-state').textContent).toContain('running');
    expect(within(page).getByTestId('vm-state-reason').textContent).toContain('booted');
    expect(within(page).getByTestId('vm-state-age').textContent).toContain('changed 5m ago');
    expect(within(page).getByTestId('vm-memory').textContent).toBe('2 GiB');
    await waitFor(() => expect(screen.getByTestId('chart-cpu').dataset.latest).toBe('42.5'));
    expect(screen.getByTestId('chart-cpu-latest').textContent).toBe('42.5 %');
    expect(screen.getByTestId('chart-memory').dataset.latest).toBe(String(1048576 * 1024));
    expect(within(page).getByRole('button', { name: 'Shutdown web1' })).toBeTruthy();
    expect(server.state.liveAsks).toBe(1);
    expect(await screen.findByTestId('vm-detail')).toBeTruthy(); // the details are read as the page opens
  });

  it('opens from the fleet list too', async () => {
    const server = serverWithRunningVm();
    await loggedInApp({ server, path: '/vms' });
    const row = await screen.findByTestId('fleet-row');
    fireEvent.click(within(row).getByTestId('vm-page-link'));
    expect((await screen.findByTestId('vm-page')).dataset.vmUuid).toBe(VM.uuid);
    expect(window.location.pathname).toBe(`/vms/agt-1/${VM.uuid}`);
  });

  it('switches the graphs to the last day or week', async () => {
    const server = serverWithRunningVm();
    await loggedInApp({ server, path: `/vms/agt-1/${VM.uuid}` });
    await waitFor(() => expect(screen.getByTestId('chart-cpu').dataset.latest).toBe('42.5'));
    fireEvent.click(screen.getByRole('button', { name: 'Last day' }));
    await waitFor(() => expect(screen.getByTestId('chart-cpu').dataset.latest).toBe('12'));
    expect(screen.getByRole('button', { name: 'Last day' }).getAttribute('aria-pressed')).toBe('true');
    expect(server.state.metricsAsked).toEqual(['hour', 'day']);
  });

  it('finds a VM by name too, and says so when the host has no such VM', async () => {
    const server = serverWithRunningVm();
    await loggedInApp({ server, path: '/vms/agt-1/web1' });
    expect((await screen.findByTestId('vm-page')).dataset.vmUuid).toBe(VM.uuid);
    window.history.pushState(null, '', '/vms/agt-1/nope');
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect((await screen.findByTestId('not-found')).textContent).toContain("No VM 'nope' on this host.");
  });
});
