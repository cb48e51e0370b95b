// The serial console through the whole app over the fake server: opened from
// a VM row, linked, reloaded, typed into, taken over, closed and replayed.
// The terminal is a real xterm.js, never opened (see src/test/terminal.ts).

import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import type { ConsoleTimings } from '../state/consoleSession';
import type { FakeConsole } from '../test/fakeConsoles';
import { fakeServer, type FakeServer } from '../test/fakeServer';
import { aVm } from '../test/fixtures';
import { goTo, loggedInApp, openApp } from '../test/renderApp';
import { headlessTerminals } from '../test/terminal';

const UUID = aVm().uuid;
const FAST: ConsoleTimings = { retryMs: 20, maxRetryMs: 50 };

function runningVm(): FakeServer {
  const server = fakeServer();
  server.state.vms = [aVm({ state: 'running' }), aVm({ uuid: 'vm-2', name: 'db1', state: 'running' })];
  return server;
}

/** Logs in at `path` with headless terminals; the Hosts page polls slowly. */
async function openAt(server: FakeServer, path = '/') {
  const terminals = headlessTerminals();
  const opened = await loggedInApp({
    server,
    path,
    fleetOptions: { tickMs: 60_000 },
    consoleOptions: { terminal: terminals.factory, timings: FAST },
  });
  return { ...opened, terminals };
}

/** Opens web1's console from its row; answers the session the server made. */
async function openFromRow(server: FakeServer) {
  const opened = await openAt(server);
  fireEvent.click(await screen.findByTestId('vm-console-web1'));
  await screen.findByTestId('console-terminal');
  await waitFor(() => expect(opened.terminals.made).toHaveLength(1));
  return { ...opened, made: server.state.consoles[0] };
}

const vmRow = (name: string) => document.querySelector<HTMLElement>(`[data-testid=vm-row][data-vm-name="${name}"]`)!;
const statusOf = () => screen.getByTestId('console-status');
const writerOf = () => screen.getByTestId('console-writer').dataset.writer;

/** A session someone else opened earlier, with output; `writer` holds the keyboard. */
function earlierSession(server: FakeServer, over: Parameters<FakeServer['consoles']['add']>[0] = {}): FakeConsole {
  const made = server.consoles.add(over);
  made.clients.push('client-elsewhere');
  made.writer = 'client-elsewhere';
  return made;
}

describe('console view', () => {
  it('opens from the VM row, shows live output and sends what is typed', async () => {
    const server = runningVm();
    const { terminals, made } = await openFromRow(server);
    const id = made.session.console_id;

    expect(server.bodiesOf(`POST /api/agents/agt-1/vms/${UUID}/console`)).toEqual([{}]);
    expect(window.location.pathname).toBe(`/consoles/${id}`);
    await waitFor(() => expect(statusOf().dataset.status).toBe('open'));
    expect(statusOf().textContent).toBe('Open');
    expect(writerOf()).toBe('writer');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Console of web1');

    server.consoles.print(id, 'Debian GNU/Linux 12 web1 ttyS0\r\n\r\nweb1 login: ');
    await waitFor(() => expect(terminals.last().text()).toBe('Debian GNU/Linux 12 web1 ttyS0\n\nweb1 login:'));

    terminals.last().type('root');
    terminals.last().type('\r');
    await waitFor(() => expect(made.inputs).toEqual(['root\r']));
  });

  it('decodes UTF-8 split across chunks', async () => {
    const server = runningVm();
    const { terminals, made } = await openFromRow(server);
    const bytes = new TextEncoder().encode('café ✓ done');
    const id = made.session.console_id;

    server.consoles.print(id, bytes.slice(0, 4)); // "caf" and half of "é"
    server.consoles.print(id, bytes.slice(4, 8)); // the rest of "é", " ", part of "✓"
    server.consoles.print(id, bytes.slice(8));
    await waitFor(() => expect(terminals.last().text()).toBe('café ✓ done'));
  });

  it('offers no console for a VM that is off, and shows a refused open under the button', async () => {
    const server = runningVm();
    server.state.vms[1].state = 'shutoff';
    server.failNext(`POST /api/agents/agt-1/vms/${UUID}/console`, 404, 'vm_not_found', "No VM 'web1' on this host.");
    await openAt(server);

    expect((await screen.findByTestId<HTMLButtonElement>('vm-console-db1')).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('vm-console-web1'));
    const row = vmRow('web1');
    expect((await within(row).findByTestId('action-error')).textContent).toBe("No VM 'web1' on this host.");
    expect(window.location.pathname).toBe('/');
  });

  it("offers no console on a host whose hypervisor has none, and says why", async () => {
    const server = runningVm();
    const why = "This host's hypervisor (TEST) cannot open a serial console.";
    server.state.agents[0].console_unavailable = why;
    await openAt(server);

    const button = await screen.findByTestId<HTMLButtonElement>('vm-console-web1');
    expect(button.disabled).toBe(true);
    expect(button.title).toBe(why);
    expect(screen.getByTestId('console-unavailable').textContent).toBe(`No consoles here: ${why}`);
  });

  it('does not claim another tab has the keyboard once the session has failed', async () => {
    const server = runningVm();
    const { made } = await openFromRow(server);
    made.writer = null; // the real server names no writer of a session that has ended
    server.consoles.end(made.session.console_id, 'error');

    await waitFor(() => expect(statusOf().dataset.status).toBe('closed'));
    expect(writerOf()).toBe('closed');
    expect(document.body.textContent).not.toContain('another tab');
  });

  it('shows an opening session as opening until the host attaches', async () => {
    const server = runningVm();
    server.state.consoleStartStatus = 'opening';
    const { made } = await openFromRow(server);

    await waitFor(() => expect(statusOf().textContent).toBe('Opening: waiting for the host to attach the console…'));
    server.consoles.attach(made.session.console_id);
    await waitFor(() => expect(statusOf().dataset.status).toBe('open'));
  });

  it('carries on as the same client after a reload', async () => {
    const server = runningVm();
    const { view, made } = await openFromRow(server);
    const id = made.session.console_id;
    server.consoles.print(id, 'before reload\r\n');
    view.unmount();

    const terminals = headlessTerminals();
    openApp({ server, path: `/consoles/${id}`, consoleOptions: { terminal: terminals.factory, timings: FAST } });
    await waitFor(() => expect(terminals.made).toHaveLength(1));
    await waitFor(() => expect(terminals.last().text()).toBe('before reload'));

    expect(server.count(`POST /api/agents/agt-1/vms/${UUID}/console`)).toBe(1);
    expect(made.clients).toHaveLength(1);
    expect(writerOf()).toBe('writer');
    terminals.last().type('x');
    await waitFor(() => expect(made.inputs).toEqual(['x']));
  });

  it('joins from a link as a reader, and takes over typing on request', async () => {
    const server = runningVm();
    const earlier = earlierSession(server);
    const id = earlier.session.console_id;
    server.consoles.print(id, 'shared screen');
    const { terminals } = await openAt(server, `/consoles/${id}`);

    await waitFor(() => expect(terminals.made).toHaveLength(1));
    await waitFor(() => expect(terminals.last().text()).toBe('shared screen'));
    expect(server.count(`POST /api/agents/agt-1/vms/${UUID}/console`)).toBe(1);
    expect(writerOf()).toBe('read-only');

    terminals.last().type('x');
    expect((await screen.findByTestId('console-input-error')).textContent).toBe(
      'This tab is read-only: take over typing to type here.',
    );
    fireEvent.click(screen.getByTestId('console-takeover'));
    await waitFor(() => expect(writerOf()).toBe('writer'));
    expect(screen.queryByTestId('console-takeover')).toBeNull();
    expect(screen.queryByTestId('console-input-error')).toBeNull();

    terminals.last().type('y');
    await waitFor(() => expect(earlier.inputs).toEqual(['y']));
  });

  it('shows the transcript of a linked session that has ended, without opening one', async () => {
    const server = runningVm();
    const ended = earlierSession(server, { status: 'closed', closed_reason: 'vm_stopped' });
    server.consoles.print(ended.session.console_id, 'reboot: Power down');
    const { terminals } = await openAt(server, `/consoles/${ended.session.console_id}`);

    await waitFor(() => expect(terminals.made).toHaveLength(1));
    await waitFor(() => expect(terminals.last().text()).toBe('reboot: Power down'));
    expect(statusOf().textContent).toBe('Closed: the VM stopped or its serial console went away.');
    expect(statusOf().dataset.reason).toBe('vm_stopped');
    expect(writerOf()).toBe('replay');
    expect(server.count(`POST /api/agents/agt-1/vms/${UUID}/console`)).toBe(0);
    expect(screen.queryByTestId('console-close')).toBeNull();
    expect(screen.queryByTestId('console-takeover')).toBeNull();
  });

  it('closes the console and says why it closed', async () => {
    const server = runningVm();
    const { made } = await openFromRow(server);
    await waitFor(() => expect(statusOf().dataset.status).toBe('open'));

    fireEvent.click(screen.getByTestId('console-close'));
    await waitFor(() => expect(statusOf().textContent).toBe('Closed: someone closed it.'));
    expect(server.count(`POST /api/consoles/${made.session.console_id}/close`)).toBe(1);
    expect(screen.queryByTestId('console-close')).toBeNull();
  });

  it('stops polling and disposes the terminal when the operator leaves', async () => {
    const server = runningVm();
    const { terminals, made } = await openFromRow(server);
    const output = `GET /api/consoles/${made.session.console_id}/output`;
    await waitFor(() => expect(server.count(output)).toBeGreaterThan(1));

    goTo('jobs');
    await screen.findByTestId('job-filters');
    expect(terminals.last().disposed).toBe(true);
    const polls = server.count(output);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(server.count(output)).toBe(polls);
  });

  it('says so for a console the server does not know', async () => {
    await openAt(fakeServer(), `/consoles/${'f'.repeat(32)}`);
    expect((await screen.findByTestId('console-error')).textContent).toBe('No such console session.');
  });
});

describe('console history', () => {
  it("lists a VM's sessions in More, and replays one read-only", async () => {
    const server = runningVm();
    const first = earlierSession(server, { status: 'closed', closed_reason: 'idle', created_ms: 1_700_000_000_000 });
    server.consoles.print(first.session.console_id, 'first boot\r\n');
    earlierSession(server, { vm_uuid: 'vm-2', vm_name: 'db1', status: 'closed', closed_reason: 'requested' });
    const live = earlierSession(server, { created_ms: 1_700_000_500_000 });
    const { terminals } = await openAt(server);

    await screen.findAllByTestId('vm-row');
    const row = vmRow('web1');
    fireEvent.click(within(row).getByRole('button', { name: 'More actions for web1' }));
    fireEvent.click(within(row).getByRole('button', { name: 'Console history' }));
    const entries = await within(row).findAllByTestId('console-history-row');

    expect(entries.map((e) => e.dataset.consoleId)).toEqual([live.session.console_id, first.session.console_id]);
    expect(entries[1].textContent).toContain('Closed: nobody was watching it.');
    expect(within(entries[0]).getByTestId('console-join')).toBeTruthy();
    expect(within(entries[1]).queryByTestId('console-join')).toBeNull();

    fireEvent.click(within(entries[1]).getByTestId('console-replay'));
    expect(window.location.pathname).toBe(`/consoles/${first.session.console_id}/replay`);
    await waitFor(() => expect(terminals.made).toHaveLength(1));
    await waitFor(() => expect(terminals.last().text()).toBe('first boot'));
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Console transcript of web1');
    expect(writerOf()).toBe('replay');
    terminals.last().type('x');
    expect(server.count(`POST /api/agents/agt-1/vms/${UUID}/console`)).toBe(0);
    expect(server.state.requests.filter((r) => r.includes('/output?'))[0]).toBe(
      `GET /api/consoles/${first.session.console_id}/output?after=0&wait=0`,
    );
  });

  it("lists every VM's sessions on the host, page by page", async () => {
    const server = runningVm();
    server.state.pageSize = 2;
    for (const name of ['web1', 'db1', 'web1']) earlierSession(server, { vm_name: name, status: 'closed' });
    await openAt(server);

    const host = await screen.findByTestId('host');
    fireEvent.click(within(host).getByRole('button', { name: 'Console history of host hv1' }));
    await waitFor(() => expect(within(host).getAllByTestId('console-history-row')).toHaveLength(2));
    fireEvent.click(within(host).getByTestId('console-history-more'));
    await waitFor(() => expect(within(host).getAllByTestId('console-history-row')).toHaveLength(3));
    expect(server.state.requests.filter((r) => r.startsWith('GET /api/consoles?'))[0]).toBe(
      'GET /api/consoles?agent_id=agt-1&limit=50',
    );
  });
});
