// The VM row's "More" panel, through the whole app over the fake server.

import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer, type FakeServer } from '../test/fakeServer';
import { aVm } from '../test/fixtures';
import { fill, loggedInApp } from '../test/renderApp';
import type { VM } from '../types';

const UUID = aVm().uuid;
const ACTIONS = `POST /api/agents/agt-1/vms/${UUID}/actions`;

function serverWith(vm: Partial<VM> = {}): FakeServer {
  const server = fakeServer();
  server.state.vms = [aVm(vm)];
  return server;
}

/** Opens the Hosts page and web1's "More" panel; answers the row. */
async function openMore(server: FakeServer): Promise<HTMLElement> {
  await loggedInApp({ server, fleetOptions: { tickMs: 60_000 } });
  const row = await screen.findByTestId('vm-row');
  fireEvent.click(within(row).getByRole('button', { name: 'More actions for web1' }));
  within(row).getByTestId('vm-more');
  return row;
}

function button(row: HTMLElement, action: string): HTMLButtonElement {
  const found = row.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`);
  if (!found) throw new Error(`no button ${action}`);
  return found;
}

/** Waits until every job the page started has ended. */
async function jobsDone(server: FakeServer): Promise<void> {
  await waitFor(() => expect(server.state.jobs.every((job) => job.final)).toBe(true));
}

describe('VM row: more actions', () => {
  it('keeps the lifecycle buttons and opens the panel only on request', async () => {
    const server = serverWith({ state: 'running' });
    await loggedInApp({ server, fleetOptions: { tickMs: 60_000 } });
    const row = await screen.findByTestId('vm-row');

    for (const action of ['start', 'shutdown', 'force-stop', 'reboot', 'suspend', 'resume']) button(row, action);
    expect(within(row).queryByTestId('vm-more')).toBeNull();
    fireEvent.click(button(row, 'more'));
    expect(within(row).getByTestId('vm-more')).toBeTruthy();
  });

  it('resets a running or paused VM only', async () => {
    const server = serverWith({ state: 'running' });
    const row = await openMore(server);

    fireEvent.click(button(row, 'reset'));
    expect(within(row).getByRole('alertdialog').textContent).toContain('whatever it has not written to disk is lost');
    expect(server.bodiesOf(ACTIONS)).toEqual([]); // one click only asks
    fireEvent.click(button(row, 'confirm'));
    await jobsDone(server);
    expect(server.bodiesOf(ACTIONS)).toEqual([{ action: 'reset' }]);
  });

  it('offers no reset for a VM that is off', async () => {
    const off = await openMore(serverWith({ state: 'shutoff' }));
    expect(button(off, 'reset').disabled).toBe(true);
  });

  it('shows autostart and sends its opposite, then the new state', async () => {
    const server = serverWith({ autostart: false });
    const row = await openMore(server);
    expect(within(row).getByTestId('vm-autostart').textContent).toBe('off');

    fireEvent.click(button(row, 'set-autostart'));
    await waitFor(() => expect(within(row).getByTestId('vm-autostart').textContent).toBe('on'));
    fireEvent.click(button(row, 'set-autostart'));
    await waitFor(() => expect(within(row).getByTestId('vm-autostart').textContent).toBe('off'));

    expect(server.bodiesOf(ACTIONS)).toEqual([
      { action: 'set-autostart', autostart: true },
      { action: 'set-autostart', autostart: false },
    ]);
  });

  it('sends a shutdown with the typed timeout, only for 1..3600 s', async () => {
    const server = serverWith({ state: 'running' });
    const row = await openMore(server);
    const go = button(row, 'shutdown-timeout');
    expect(go.disabled).toBe(true);

    for (const bad of ['0', '3601', '1.5', 'abc']) {
      fill(row, { shutdown_timeout: bad });
      expect(go.disabled).toBe(true);
    }
    fill(row, { shutdown_timeout: '90' });
    fireEvent.click(go);

    await waitFor(() => expect(within(row).getByTestId('vm-state').textContent).toBe('shutoff'));
    expect(server.bodiesOf(ACTIONS)).toEqual([{ action: 'shutdown', timeout_seconds: 90 }]);
  });

  it('lists snapshots from the job result, a name with markup as text', async () => {
    const server = serverWith();
    const markup = '<img src=x onerror=alert(1)>';
    server.state.snapshots.set(UUID, [
      { name: 'before-upgrade', description: 'clean <b>state</b>', created_at: 1_700_000_000, state: 'shutoff', current: false },
      { name: markup, description: null, created_at: null, state: 'shutoff', current: true },
    ]);
    const row = await openMore(server);

    fireEvent.click(button(row, 'snapshot-list'));
    const rows = await within(row).findAllByTestId('snapshot-row');

    expect(server.bodiesOf(ACTIONS)).toEqual([{ action: 'snapshot-list' }]);
    const jobId = server.state.jobs[0].job_id;
    expect(server.count(`GET /api/jobs/${jobId}/result`)).toBe(1);
    expect(rows.map((r) => r.dataset.name)).toEqual(['before-upgrade', markup]);
    expect(rows[0].textContent).toContain('clean <b>state</b>');
    expect(rows[1].querySelector('.snapshot-name')!.textContent).toBe(markup);
    expect(document.querySelector('img')).toBeNull();
    expect(document.querySelector('b')).toBeNull();
  });

  it('creates a snapshot with the exact body, then lists it', async () => {
    const server = serverWith();
    const row = await openMore(server);

    fireEvent.click(button(row, 'snapshot-list'));
    await within(row).findByTestId('snapshot-empty');
    const form = within(row).getByTestId('snapshot-form');
    fill(form, { snapshot_name: 'pre-patch', snapshot_description: 'before patching' });
    fireEvent.submit(form);

    const created = await within(row).findByTestId('snapshot-row');
    expect(created.dataset.name).toBe('pre-patch');
    expect(server.bodiesOf(ACTIONS)).toEqual([
      { action: 'snapshot-list' },
      { action: 'snapshot-create', name: 'pre-patch', description: 'before patching' },
      { action: 'snapshot-list' },
    ]);
  });

  it('reverts to and deletes a snapshot, reading the list again after each', async () => {
    const server = serverWith();
    server.state.snapshots.set(UUID, [
      { name: 'a', description: null, created_at: null, state: 'shutoff', current: false },
      { name: 'b', description: null, created_at: null, state: 'shutoff', current: true },
    ]);
    const row = await openMore(server);
    fireEvent.click(button(row, 'snapshot-list'));
    await within(row).findAllByTestId('snapshot-row');

    const rowOf = (name: string) => row.querySelector<HTMLElement>(`[data-testid=snapshot-row][data-name="${name}"]`)!;
    fireEvent.click(button(rowOf('a'), 'snapshot-revert'));
    expect(within(rowOf('a')).getByRole('alertdialog').textContent).toContain('Every change made to web1 since that snapshot is lost');
    expect(server.bodiesOf(ACTIONS)).toHaveLength(1); // one click only asks
    fireEvent.click(button(rowOf('a'), 'confirm'));
    await waitFor(() => expect(server.bodiesOf(ACTIONS)).toHaveLength(3));
    await waitFor(() => expect(button(rowOf('a'), 'snapshot-delete').disabled).toBe(false));
    await jobsDone(server);
    fireEvent.click(button(rowOf('a'), 'snapshot-delete'));
    expect(within(rowOf('a')).getByRole('alertdialog').textContent).toContain('can no longer be reverted to it');
    fireEvent.click(button(rowOf('a'), 'confirm'));

    await waitFor(() => expect(within(row).getAllByTestId('snapshot-row').map((r) => r.dataset.name)).toEqual(['b']));
    expect(server.bodiesOf(ACTIONS)).toEqual([
      { action: 'snapshot-list' },
      { action: 'snapshot-revert', name: 'a' },
      { action: 'snapshot-list' },
      { action: 'snapshot-delete', name: 'a' },
      { action: 'snapshot-list' },
    ]);
  });

  it('shows disks, NICs, IPs and uptime from a detail job', async () => {
    const server = serverWith({ state: 'running' });
    server.state.details.set(UUID, {
      disks: [{ target: 'vda', source: '/var/lib/libvirt/images/web1.qcow2', capacity_bytes: 10 * 1024 ** 3 }],
      nics: [{ mac: '52:54:00:aa:bb:cc', network: 'default' }],
      ips: [{ interface: 'vnet0', address: '192.168.122.10', prefix: 24, family: 'ipv4' }],
      uptime_seconds: 3700,
    });
    const row = await openMore(server);

    fireEvent.click(button(row, 'detail'));
    const detail = await within(row).findByTestId('vm-detail');

    expect(server.bodiesOf(ACTIONS)).toEqual([{ action: 'detail' }]);
    expect(within(detail).getByTestId('vm-disk').textContent).toContain('vda · 10 GiB');
    expect(within(detail).getByTestId('vm-nic').textContent).toBe('52:54:00:aa:bb:cc · default');
    expect(within(detail).getByTestId('vm-ip').textContent).toBe('192.168.122.10/24 (vnet0)');
    expect(within(detail).getByTestId('vm-uptime').textContent).toBe('1h 1m');
  });

  it('deletes only after the VM name is typed, with the exact body', async () => {
    const server = serverWith();
    const row = await openMore(server);

    fireEvent.click(button(row, 'delete'));
    const form = within(row).getByTestId('delete-form');
    const confirm = button(form, 'confirm-delete');
    expect(confirm.disabled).toBe(true);
    fill(form, { confirm_vm_name: 'web' });
    expect(confirm.disabled).toBe(true);
    fireEvent.submit(form);
    expect(server.bodiesOf(ACTIONS)).toEqual([]);

    fill(form, { confirm_vm_name: 'web1' });
    fireEvent.click(form.querySelector<HTMLInputElement>('input[name=delete_storage]')!);
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);

    await waitFor(() => expect(screen.queryByTestId('vm-row')).toBeNull());
    expect(server.bodiesOf(ACTIONS)).toEqual([{ action: 'delete', delete_storage: true, confirm: 'web1' }]);
  });

  it("shows a failed job's summary in the row's error", async () => {
    const server = serverWith({ state: 'running' });
    const row = await openMore(server);

    fireEvent.click(button(row, 'delete'));
    const form = within(row).getByTestId('delete-form');
    fill(form, { confirm_vm_name: 'web1' });
    fireEvent.submit(form);

    const error = await within(row).findByTestId('vm-error');
    expect(error.textContent).toBe('vm.delete failed: invalid_state: The VM is running: stop it first.');
  });

  it("shows a failed read's summary and no stale list", async () => {
    const server = serverWith();
    server.state.jobFailures.set('snapshot-list', 'Snapshots are <em>unsupported</em> here.');
    const row = await openMore(server);

    fireEvent.click(button(row, 'snapshot-list'));

    const error = await within(row).findByTestId('vm-error');
    expect(error.textContent).toBe('vm.snapshot_list failed: hypervisor_error: Snapshots are <em>unsupported</em> here.');
    expect(within(row).queryByTestId('snapshot-row')).toBeNull();
    expect(document.querySelector('em')).toBeNull();
  });

  it("shows a 400's message from its JSON body in the row's error", async () => {
    const server = serverWith();
    server.failNext(ACTIONS, 400, 'invalid_request', 'A snapshot name is 1 to 64 letters.');
    const row = await openMore(server);

    const form = within(row).getByTestId('snapshot-form');
    fill(form, { snapshot_name: 'bad name' });
    fireEvent.submit(form);

    expect((await within(row).findByTestId('vm-error')).textContent).toBe('A snapshot name is 1 to 64 letters.');
    expect(server.state.jobs).toEqual([]);
  });
});
