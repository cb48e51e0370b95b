import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer, type FakeServer } from '../test/fakeServer';
import { anAgent, aVm } from '../test/fixtures';
import { fill, goTo, loggedInApp } from '../test/renderApp';

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** hv1 (the fake's host) and hv2, with three more VMs besides the fake's web1. */
function fleetServer(): FakeServer {
  const server = fakeServer();
  server.state.agents.push(anAgent({ agent_id: 'agt-2', name: 'hv2', labels: { zone: 'north' } }));
  server.state.vms.push(
    aVm({ uuid: uuid(1), name: 'db1', state: 'running', addresses: ['10.0.0.7'], labels: { tier: '<b>db</b>' } }),
    aVm({ uuid: uuid(2), agent_id: 'agt-2', name: 'web2', state: 'running' }),
    aVm({ uuid: uuid(3), agent_id: 'agt-2', name: 'cache1', state: 'shutoff' }),
  );
  return server;
}

async function fleetPage(server: FakeServer) {
  await loggedInApp({ server });
  goTo('vms');
  await waitFor(() => expect(screen.getByTestId('fleet-count').textContent).toBe('4 of 4 VMs'));
}

const names = () => screen.queryAllByTestId('fleet-row').map((row) => row.dataset.vmName);
const row = (name: string) => document.querySelector<HTMLElement>(`[data-testid=fleet-row][data-vm-name="${name}"]`)!;
const search = (text: string) => fireEvent.input(screen.getByTestId('fleet-search'), { target: { value: text } });

describe('VMs page', () => {
  it('lists every VM of every host by name, with its host, and labels as text chips', async () => {
    await fleetPage(fleetServer());
    expect(names()).toEqual(['cache1', 'db1', 'web1', 'web2']);
    expect(row('web2').textContent).toContain('hv2');
    expect(within(row('db1')).getByTestId('vm-label').textContent).toBe('tier=<b>db</b>');
    expect(document.querySelector('b')).toBeNull();
  });

  it('searches by address, label, host and its labels; filters by state; sorts by a column', async () => {
    await fleetPage(fleetServer());
    search('10.0.0.7');
    expect(names()).toEqual(['db1']);
    search('tier=<b>');
    expect(names()).toEqual(['db1']);
    search('zone=north'); // hv2's label (the host list comes beside the VMs)
    await waitFor(() => expect(names()).toEqual(['cache1', 'web2']));
    search('');
    fill(document.querySelector('.fleet-toolbar')!, { state: 'running' });
    expect(names()).toEqual(['db1', 'web2']);
    fill(document.querySelector('.fleet-toolbar')!, { state: '' });
    fireEvent.click(document.querySelector('button[data-sort=host]')!);
    expect(names()).toEqual(['db1', 'web1', 'cache1', 'web2']); // hv1's, then hv2's, each by name
    fireEvent.click(document.querySelector('button[data-sort=host]')!);
    expect(names()).toEqual(['cache1', 'web2', 'db1', 'web1']);
  });

  it('asks before a bulk shutdown, then runs it only where it applies', async () => {
    const server = fleetServer();
    await fleetPage(server);
    fireEvent.click(screen.getByTestId('fleet-select-all'));
    search('web');
    expect(screen.getByTestId('bulk-bar').textContent).toContain('4 selected(2 not shown by the search)');
    search('');
    fireEvent.click(within(screen.getByTestId('bulk-bar')).getByText('Shutdown'));
    const confirm = screen.getByTestId('fleet-confirm');
    expect(confirm.textContent).toContain('Shutdown 4 VMs on 2 hosts?');
    expect(server.state.vms.filter((vm) => vm.state === 'running')).toHaveLength(2);
    fireEvent.click(within(confirm).getByText('Shutdown 4 VMs'));
    const counts = await screen.findByTestId('bulk-counts');
    await waitFor(() => expect(counts.textContent).toBe('2 succeeded, 0 failed, 0 running, 2 skipped'), { timeout: 5000 });
    expect(server.state.vms.every((vm) => vm.state === 'shutoff')).toBe(true);
    // A few VMs acted on are read again as their jobs end: their new state shows without waiting for the feed.
    await waitFor(() => expect(within(row('db1')).getByTestId('fleet-vm-state').textContent).toBe('shutoff'));
  });

  it('a bulk snapshot where one VM fails names it, with its job', async () => {
    const server = fleetServer();
    server.state.snapshots.set(uuid(1), [{ name: 'nightly', description: null, created_at: 1, state: 'running', current: true }]);
    await fleetPage(server);
    fireEvent.click(screen.getByTestId('fleet-select-all'));
    fireEvent.click(within(screen.getByTestId('bulk-bar')).getByText('Snapshot…'));
    const form = screen.getByTestId('fleet-snapshot-form');
    fill(form, { bulk_snapshot_name: 'nightly' });
    fireEvent.submit(form);
    const counts = await screen.findByTestId('bulk-counts');
    await waitFor(() => expect(counts.textContent).toBe('3 succeeded, 1 failed, 0 running'), { timeout: 5000 });
    const failed = document.querySelector<HTMLElement>('[data-testid=bulk-item][data-status=failed]')!;
    expect(failed.dataset.vmName).toBe('db1');
    expect(within(failed).getByTestId('bulk-error').textContent).toContain('nightly');
    fireEvent.click(within(failed).getByRole('button'));
    await within(failed).findByTestId('job-detail');
  });

  it('sets a VM’s labels from its row menu and refuses a bad line before sending', async () => {
    const server = fleetServer();
    await fleetPage(server);
    fireEvent.click(within(row('web2')).getByRole('button', { name: 'Actions for web2' }));
    fireEvent.click(within(screen.getByTestId('fleet-row-menu')).getByText('Labels…'));
    const form = screen.getByTestId('fleet-label-form');
    fill(form, { bulk_labels: 'no equals sign' });
    fireEvent.submit(form);
    expect(form.textContent).toContain('Line 1');
    fill(form, { bulk_labels: 'tier=web' });
    fireEvent.submit(form);
    await waitFor(() => expect(within(row('web2')).getByTestId('vm-label').textContent).toBe('tier=web'));
    expect(server.state.vms.find((vm) => vm.name === 'web2')?.labels).toEqual({ tier: 'web' });
  });
});
