import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { startOfDayMs } from '../format';
import { fakeServer } from '../test/fakeServer';
import { anAuditRecord } from '../test/fakeRecords';
import { asAdmin, fill, goTo, loggedInApp } from '../test/renderApp';

function serverWithRecords(count: number) {
  const server = fakeServer();
  server.state.pageSize = 2;
  for (let n = 1; n <= count; n += 1) {
    server.state.audit.push(anAuditRecord(n, { action: n % 2 === 0 ? 'vm.stop' : 'vm.start' }));
  }
  return server;
}

async function auditPage(server = serverWithRecords(5)) {
  const opened = await loggedInApp({ server });
  server.state.audit = server.state.audit.filter((r) => r.action !== 'auth.login');
  goTo('audit');
  await screen.findAllByTestId('audit-row');
  return opened;
}

const ids = () => screen.getAllByTestId('audit-row').map((row) => row.dataset.recordId);

describe('Audit page', () => {
  it('shows records newest first, with their action', async () => {
    await auditPage();

    expect(ids()).toEqual(['rec-5', 'rec-4']);
    const [newest] = screen.getAllByTestId('audit-row');
    expect(newest.dataset.action).toBe('vm.start');
    expect(newest.textContent).toContain('ops@example.test');
    expect(newest.textContent).toContain('agt-1/vm-5');
    expect(newest.textContent).toContain('192.0.2.10');
  });

  it('appends the next page with Load more, until there is none', async () => {
    const { server } = await auditPage();

    fireEvent.click(screen.getByTestId('audit-more'));
    await waitFor(() => expect(ids()).toEqual(['rec-5', 'rec-4', 'rec-3', 'rec-2']));
    expect(server.state.requests.at(-1)).toContain('cursor=2');

    fireEvent.click(screen.getByTestId('audit-more'));
    await waitFor(() => expect(ids()).toEqual(['rec-5', 'rec-4', 'rec-3', 'rec-2', 'rec-1']));
    expect(screen.queryByTestId('audit-more')).toBeNull();
  });

  it('filters by action and dates, starting again from the first page', async () => {
    const { server } = await auditPage();
    const form = screen.getByTestId('audit-filters');

    fill(form, { action: 'vm.stop', since: '2023-11-14', until: '2023-11-15' });
    fireEvent.submit(form);

    await waitFor(() => expect(ids()).toEqual(['rec-4', 'rec-2']));
    const query = new URL(server.state.requests.at(-1)!.split(' ')[1], 'http://x').searchParams;
    expect(query.get('action')).toBe('vm.stop');
    expect(query.get('since_ms')).toBe(String(startOfDayMs('2023-11-14')));
    expect(Number(query.get('until_ms'))).toBe(startOfDayMs('2023-11-16')! - 1);
    expect(query.get('cursor')).toBeNull();
  });

  it('shows objects in actor and target as text', async () => {
    const server = serverWithRecords(0);
    server.state.audit.push(anAuditRecord(1, { actor: { email: '<i>x</i>' }, target: null }));
    await auditPage(server);

    const row = screen.getByTestId('audit-row');
    expect(row.textContent).toContain('{"email":"<i>x</i>"}');
    expect(row.querySelector('i')).toBeNull();
  });

  it('names accounts, hosts and VMs where the server could, keeping the id as the title', async () => {
    const server = serverWithRecords(0);
    server.state.audit.push(
      anAuditRecord(1, {
        actor: 'usr_1',
        actor_name: 'ops@example.test',
        target: 'ag_1/6695eb01-f6a4-8304-79aa-97f2502e193f',
        target_name: 'web1 on rack4-host1',
      }),
      anAuditRecord(2, { actor: 'usr_gone', actor_name: null, target: 'ses_1', target_name: null }),
    );
    await auditPage(server);

    const [unnamed, named] = screen.getAllByTestId('audit-row'); // newest first
    expect(within(unnamed).getByTestId('audit-actor').textContent).toBe('usr_gone');
    const actor = within(named).getByTestId('audit-actor');
    const target = within(named).getByTestId('audit-target');
    expect([actor.textContent, actor.title]).toEqual(['ops@example.test', 'usr_1']);
    expect([target.textContent, target.title]).toEqual([
      'web1 on rack4-host1',
      'ag_1/6695eb01-f6a4-8304-79aa-97f2502e193f',
    ]);
    expect(named.textContent).not.toContain('usr_1');
  });

  it('lets an admin read the failed logins to no account', async () => {
    const server = serverWithRecords(1);
    server.state.anonymousAudit.push(
      anAuditRecord(9, { actor: 'nobody@example.test', action: 'auth.login', outcome: 'denied', target: '' }),
    );
    await loggedInApp({ server, ...asAdmin });
    goTo('audit');
    const form = await screen.findByTestId('audit-filters');

    fireEvent.change(form.querySelector('select[name=owner]')!, { target: { value: 'anonymous' } });
    fireEvent.submit(form);

    await waitFor(() => expect(ids()).toEqual(['rec-9']));
    expect(screen.getByTestId('audit-row').textContent).toContain('nobody@example.test');
    expect(server.state.requests.at(-1)).toContain('owner=anonymous');
  });

  it('offers an operator no other trail', async () => {
    await auditPage();
    expect(screen.getByTestId('audit-filters').querySelector('select[name=owner]')).toBeNull();
  });
});
