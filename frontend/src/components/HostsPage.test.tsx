import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer, type FakeServer } from '../test/fakeServer';
import { anAgent, aVm } from '../test/fixtures';
import { fill, loggedInApp } from '../test/renderApp';
import type { Agent } from '../types';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PENDING_SINCE = 1_700_000_000_000;

/** A server with hv1 (approved, one VM) and the hosts given. */
function serverWith(...agents: Agent[]): FakeServer {
  const server = fakeServer();
  server.state.agents.push(...agents);
  return server;
}

const newHost = () =>
  anAgent({
    agent_id: 'agt-2',
    name: 'hv2',
    status: 'pending',
    approval: 'pending',
    last_seen_ms: null,
    pending_since_ms: PENDING_SINCE,
    vm_count: 0,
  });

async function hostsPage(server: FakeServer, tickMs = 30) {
  const opened = await loggedInApp({ server, fleetOptions: { tickMs } });
  await screen.findAllByTestId('vm-row');
  return opened;
}

function hostCard(agentId: string): HTMLElement {
  const card = document.querySelector<HTMLElement>(`[data-testid=host][data-agent-id="${agentId}"]`);
  if (!card) throw new Error(`no host ${agentId}`);
  return card;
}

function button(card: HTMLElement, action: string): HTMLButtonElement | null {
  return card.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`);
}

describe('Hosts page: labels', () => {
  it('shows each label as a chip, markup in a value as plain text', async () => {
    const server = fakeServer();
    server.state.agents[0].labels = { zone: 'a', rack: '<img src=x onerror=alert(1)>' };
    await hostsPage(server);

    const chips = within(screen.getByTestId('host-labels')).getAllByTestId('host-label');
    expect(chips.map((chip) => chip.dataset.key)).toEqual(['rack', 'zone']);
    expect(chips[0].textContent).toBe('rack=<img src=x onerror=alert(1)>');
    expect(document.querySelector('img')).toBeNull();
  });

  it('sends the edited labels as an object and shows the new chips', async () => {
    const server = fakeServer();
    server.state.agents[0].labels = { rack: 'r1' };
    await hostsPage(server);

    fireEvent.click(button(hostCard('agt-1'), 'edit-labels')!);
    const form = screen.getByTestId('labels-form');
    const text = form.querySelector<HTMLTextAreaElement>('textarea[name=labels]')!;
    expect(text.value).toBe('rack=r1');
    fill(form, { labels: 'rack = r2\n\nzone=eu-west=1\n' });
    fireEvent.submit(form);

    await waitFor(() => expect(screen.queryByTestId('labels-form')).toBeNull());
    expect(server.bodiesOf('PATCH /api/agents/agt-1')).toEqual([{ labels: { rack: 'r2', zone: 'eu-west=1' } }]);
    const chips = screen.getAllByTestId('host-label');
    expect(chips.map((chip) => chip.textContent)).toEqual(['rack=r2', 'zone=eu-west=1']);
  });

  it("shows the server's 400 message and keeps the form and the old labels", async () => {
    const server = fakeServer();
    server.state.agents[0].labels = { rack: 'r1' };
    await hostsPage(server);

    fireEvent.click(button(hostCard('agt-1'), 'edit-labels')!);
    const form = screen.getByTestId('labels-form');
    fill(form, { labels: 'Rack=r2' });
    fireEvent.submit(form);

    const error = await within(form).findByTestId('form-error');
    expect(error.textContent).toBe(
      "Label 'Rack' " + "is not allowed: a key is 1 to 63 characters of a-z, 0-9, '_', '.' and '-' starting with a letter or digit, and its value at most 200 printable characters on one line.",
    );
    expect(server.state.agents[0].labels).toEqual({ rack: 'r1' });
    expect(screen.getByTestId('host-label').textContent).toBe('rack=r1');
  });

  it('names a line that is not key=value, without asking the server', async () => {
    const server = fakeServer();
    await hostsPage(server);

    fireEvent.click(button(hostCard('agt-1'), 'edit-labels')!);
    const form = screen.getByTestId('labels-form');
    fill(form, { labels: 'rack=r1\njust words' });
    fireEvent.submit(form);

    expect((await within(form).findByTestId('form-error')).textContent).toBe(
      'Line 2: write each label as key=value.',
    );
    expect(server.count('PATCH /api/agents/agt-1')).toBe(0);
  });
});

describe('Hosts page: a new host waiting for approval', () => {
  it('shows it as pending, with no VM table, and never asks for its VMs', async () => {
    const server = serverWith(newHost());
    server.state.vms.push(aVm({ agent_id: 'agt-2', uuid: 'vm-2', name: 'db1' }));
    server.state.feed.pollMs = 20;
    await hostsPage(server);
    server.state.feed.bump(); // a change behind the page's back: everything is fetched again
    await sleep(120); // several feed reads and ticks

    const card = hostCard('agt-2');
    expect(within(card).getByTestId('host-status').textContent).toBe('pending');
    expect(within(card).getByTestId('host-approval-notice').textContent).toContain('waits for your approval');
    expect(within(card).queryByTestId('vm-row')).toBeNull();
    expect(within(card).queryByRole('table')).toBeNull();
    expect(server.count('GET /api/agents/agt-2/vms')).toBe(0);
    expect(server.count('GET /api/agents/agt-1/vms')).toBeGreaterThan(1);
    expect(within(card).queryByTestId('host-pending-warning')).toBeNull();
  });

  it('approves it: the status changes and its VMs appear', async () => {
    const server = serverWith(newHost());
    server.state.vms.push(aVm({ agent_id: 'agt-2', uuid: 'vm-2', name: 'db1' }));
    await hostsPage(server, 5000);

    fireEvent.click(button(hostCard('agt-2'), 'approve')!);

    const card = hostCard('agt-2');
    await waitFor(() => expect(within(card).getByTestId('host-status').textContent).toBe('online'));
    expect((await within(card).findByTestId('vm-row')).dataset.vmName).toBe('db1');
    expect(server.count('POST /api/agents/agt-2/approve')).toBe(1);
    expect(button(card, 'approve')).toBeNull();
    expect(button(card, 'reject')).toBeNull();
    expect(within(card).queryByTestId('host-approval-notice')).toBeNull();
  });

  it('rejects it: the host is gone', async () => {
    const server = serverWith(newHost());
    await hostsPage(server, 5000);

    fireEvent.click(button(hostCard('agt-2'), 'reject')!);

    await waitFor(() => expect(screen.getAllByTestId('host')).toHaveLength(1));
    expect(screen.getByTestId('host').dataset.agentId).toBe('agt-1');
    expect(server.state.agents.map((a) => a.agent_id)).toEqual(['agt-1']);
  });

  it('shows a refusal (nothing pending any more) on the host', async () => {
    const server = serverWith(newHost());
    await hostsPage(server, 5000);
    Object.assign(server.state.agents[1], { approval: 'approved', status: 'online' }); // approved elsewhere

    fireEvent.click(button(hostCard('agt-2'), 'approve')!);

    const error = await within(hostCard('agt-2')).findByTestId('action-error');
    expect(error.textContent).toBe('Nothing is waiting for approval on this host.');
  });

  it('offers Approve and Reject only where something is pending', async () => {
    await hostsPage(serverWith(newHost()));

    const approved = hostCard('agt-1');
    expect(button(approved, 'approve')).toBeNull();
    expect(button(approved, 'reject')).toBeNull();
    expect(button(approved, 'edit-labels')).not.toBeNull();
    expect(button(approved, 'deregister')).not.toBeNull();
    expect(button(hostCard('agt-2'), 'approve')).not.toBeNull();
  });
});

describe('Hosts page: a re-registration waiting for approval', () => {
  function retakenServer(): FakeServer {
    const server = fakeServer();
    Object.assign(server.state.agents[0], { pending_reregistration: true, pending_since_ms: PENDING_SINCE });
    return server;
  }

  it('warns that a new key asked to take over the name, and when', async () => {
    await hostsPage(retakenServer());

    const card = hostCard('agt-1');
    const warning = within(card).getByTestId('host-pending-warning');
    expect(warning.textContent).toContain('A new agent key asked to take over this host name');
    expect(warning.querySelector('time')!.getAttribute('datetime')).toBe(new Date(PENDING_SINCE).toISOString());
    expect(within(card).getByTestId('host-status').textContent).toBe('online');
    expect(within(card).getByTestId('vm-row')).toBeTruthy(); // an approved host keeps its VMs meanwhile
    expect(button(card, 'approve')).not.toBeNull();
  });

  it('rejects it: the warning goes, the host and its VMs stay', async () => {
    const server = retakenServer();
    await hostsPage(server, 5000);

    fireEvent.click(button(hostCard('agt-1'), 'reject')!);

    await waitFor(() => expect(screen.queryByTestId('host-pending-warning')).toBeNull());
    expect(screen.getByTestId('host').dataset.agentId).toBe('agt-1');
    expect(screen.getByTestId('vm-row')).toBeTruthy();
    expect(button(hostCard('agt-1'), 'reject')).toBeNull();
  });

  it('approves it: the warning goes', async () => {
    const server = retakenServer();
    await hostsPage(server, 5000);

    fireEvent.click(button(hostCard('agt-1'), 'approve')!);

    await waitFor(() => expect(screen.queryByTestId('host-pending-warning')).toBeNull());
    expect(server.state.agents[0].pending_reregistration).toBe(false);
  });
});

describe('Hosts page: deregister', () => {
  it('asks for the host name before it deregisters, then the host is gone', async () => {
    const server = fakeServer();
    await hostsPage(server, 5000);
    const card = hostCard('agt-1');

    fireEvent.click(button(card, 'deregister')!);
    const confirm = card.querySelector<HTMLInputElement>('input[name=confirm_host_name]')!;
    const go = button(card, 'confirm-deregister')!;
    expect(go.disabled).toBe(true);
    fireEvent.input(confirm, { target: { value: 'hv' } });
    expect(go.disabled).toBe(true);
    fireEvent.submit(confirm.form!); // Enter with the wrong name
    expect(within(card).getByTestId('form-error').textContent).toBe('Type the host name, hv1, to confirm.');
    expect(server.count('DELETE /api/agents/agt-1')).toBe(0);

    fireEvent.input(confirm, { target: { value: 'hv1' } });
    expect(go.disabled).toBe(false);
    fireEvent.click(go);

    await waitFor(() => expect(screen.queryByTestId('host')).toBeNull());
    expect(server.count('DELETE /api/agents/agt-1')).toBe(1);
    expect(server.state.agents).toEqual([]);
    expect(screen.getByText(/No hosts yet/)).toBeTruthy();
  });

  it('can be called off', async () => {
    const server = fakeServer();
    await hostsPage(server, 5000);
    const card = hostCard('agt-1');

    fireEvent.click(button(card, 'deregister')!);
    fireEvent.click(within(card).getByRole('button', { name: 'Cancel' }));

    expect(card.querySelector('input[name=confirm_host_name]')).toBeNull();
    expect(server.count('DELETE /api/agents/agt-1')).toBe(0);
  });
});

describe('Hosts page: kept fresh by the change feed', () => {
  it('shows a change made behind its back, read from the feed with no header of ours and no cache', async () => {
    const server = fakeServer();
    server.state.feed.pollMs = 20;
    await hostsPage(server, 60_000);
    expect(screen.getByTestId('vm-state').textContent).toBe('shutoff');

    server.state.vms[0] = { ...server.state.vms[0], state: 'running' }; // `virsh start` on the host
    server.state.feed.bump();
    await waitFor(() => expect(screen.getByTestId('vm-state').textContent).toBe('running'));

    expect(server.state.feedRequests.length).toBeGreaterThan(0);
    for (const read of server.state.feedRequests) expect(read).toEqual({ headers: 0, credentials: 'omit', cache: 'no-store' });
  });

  it('says how long ago the host was last heard from, counting up on a local timer with no request', async () => {
    const server = fakeServer();
    server.state.agents[0].last_seen_ms = Date.now() - 12_000;
    await hostsPage(server, 60_000);
    const seen = screen.getByTestId('host-last-seen');
    expect(seen.textContent).toBe('last seen 12s ago');
    const asked = server.state.requests.length;

    await waitFor(() => expect(seen.textContent).toBe('last seen 13s ago'), { timeout: 1500 });
    expect(server.state.requests.length).toBe(asked);
  });
});

describe('Hosts page: a host whose agent cannot reach its hypervisor', () => {
  const POLKIT = "Cannot connect to libvirt at qemu:///system: authentication unavailable: no polkit agent available to authenticate action 'org.libvirt.unix.manage'";

  it('is shown as a problem with libvirt\'s reason, never as plain "online"', async () => {
    const server = fakeServer();
    server.state.agents[0].capabilities = {
      hypervisor_available: false, hypervisor_error: 'hypervisor_unavailable', hypervisor_message: POLKIT,
    };
    await hostsPage(server);

    const card = hostCard('agt-1');
    const badge = within(card).getByTestId('host-status');
    expect(badge.textContent).toBe('no hypervisor');
    expect(badge.className).toContain('badge-bad');
    const problem = within(card).getByTestId('host-hypervisor-problem');
    expect(problem.getAttribute('role')).toBe('alert');
    expect(problem.textContent).toContain(`cannot reach the hypervisor: ${POLKIT}`);
    // The flags are not listed as facts about the hypervisor.
    expect(within(card).queryByText('hypervisor_available')).toBeNull();
  });

  it('says online again once the agent reaches it', async () => {
    const server = fakeServer();
    server.state.agents[0].capabilities = { hypervisor_available: true, hypervisor: 'QEMU' };
    await hostsPage(server);

    const card = hostCard('agt-1');
    expect(within(card).getByTestId('host-status').textContent).toBe('online');
    expect(within(card).queryByTestId('host-hypervisor-problem')).toBeNull();
  });
});
