import { describe, expect, it, vi } from 'vitest';
import { aConsole } from '../test/fixtures';
import type { ConsoleJoin, ConsoleSession } from '../types';
import { createConsoleClients, startConsole, type JoinApi } from './consoleJoin';

function joinApi(session: ConsoleSession, join: ConsoleJoin) {
  return {
    getConsole: vi.fn(async () => session),
    openConsole: vi.fn(async () => join),
  } satisfies JoinApi;
}

const open = aConsole({ console_id: 'c1' });
const joined = (over: Partial<ConsoleJoin> = {}): ConsoleJoin => ({ console: open, client_id: 'k2', writer: false, ...over });

describe('starting a console view', () => {
  it('carries on as the client this tab remembers, without joining again', async () => {
    const api = joinApi(open, joined());
    const clients = createConsoleClients(null);
    clients.remember(joined({ client_id: 'k1', writer: true }));

    const opening = await startConsole(api, clients, 'c1', false);
    expect(opening).toEqual({ kind: 'start', start: { consoleId: 'c1', clientId: 'k1', writer: true, console: open } });
    expect(api.openConsole).not.toHaveBeenCalled();
  });

  it('joins an open session it has no client for, and remembers the client', async () => {
    const api = joinApi(open, joined());
    const clients = createConsoleClients(null);

    const opening = await startConsole(api, clients, 'c1', false);
    expect(api.openConsole).toHaveBeenCalledWith('agt-1', open.vm_uuid);
    expect(opening).toMatchObject({ kind: 'start', start: { clientId: 'k2', writer: false } });
    expect(clients.get('c1')).toEqual({ clientId: 'k2', writer: false });
  });

  it('goes to the new session when the linked one ended before the join', async () => {
    const api = joinApi(open, joined({ console: aConsole({ console_id: 'c9' }), client_id: 'k9' }));
    const clients = createConsoleClients(null);

    expect(await startConsole(api, clients, 'c1', false)).toEqual({ kind: 'moved', consoleId: 'c9' });
    expect(clients.get('c9')).toEqual({ clientId: 'k9', writer: false });
  });

  it('replays an ended session, or any session asked for as a replay, without a client', async () => {
    const ended = aConsole({ console_id: 'c1', status: 'closed', closed_reason: 'idle' });
    const api = joinApi(ended, joined());
    const clients = createConsoleClients(null);

    const opening = await startConsole(api, clients, 'c1', false);
    expect(opening).toEqual({ kind: 'start', start: { consoleId: 'c1', clientId: null, writer: false, console: ended } });
    clients.remember(joined({ client_id: 'k1', writer: true }));
    expect(await startConsole(api, clients, 'c1', true)).toMatchObject({ start: { clientId: null } });
    expect(api.openConsole).not.toHaveBeenCalled();
  });
});

describe('console clients', () => {
  it('survive a reload through the tab storage', () => {
    createConsoleClients(window.sessionStorage).remember(joined({ client_id: 'k1', writer: true }));
    expect(createConsoleClients(window.sessionStorage).get('c1')).toEqual({ clientId: 'k1', writer: true });
  });

  it('stay in memory when the storage refuses, and ignore what it garbled', () => {
    const refusing = {
      getItem: () => '{not json',
      setItem: () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
    } as unknown as Storage;
    const clients = createConsoleClients(refusing);

    expect(clients.get('c1')).toBeNull();
    clients.remember(joined({ client_id: 'k1' }));
    expect(clients.get('c1')).toEqual({ clientId: 'k1', writer: false });
  });
});
