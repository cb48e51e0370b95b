// The console session over the fake API: output in order, input as the
// writer, the writer role, close and replay.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApi, type Api } from '../api';
import { CHUNK_ORIGIN } from '../test/fakeConsoles';
import { fakeServer, PASSWORD, type FakeServer } from '../test/fakeServer';
import { aVm } from '../test/fixtures';
import { createConsoleSession, type ConsoleSessionStore, type ConsoleStart, type ConsoleTimings } from './consoleSession';
import { createSessionStore, sessionFrom } from './session';

const UUID = aVm().uuid;
const FAST: ConsoleTimings = { retryMs: 10, maxRetryMs: 40 };

async function loggedInApi(server: FakeServer): Promise<Api> {
  const session = createSessionStore();
  const api = createApi({ fetch: server.fetch, session });
  session.logIn(sessionFrom(await api.login('ops@example.test', PASSWORD)));
  return api;
}

/** What reached the terminal, decoded as one UTF-8 stream. */
function textSink() {
  const decoder = new TextDecoder();
  const sink = {
    text: '',
    writes: 0,
    write(bytes: Uint8Array) {
      sink.writes += 1;
      sink.text += decoder.decode(bytes, { stream: true });
    },
  };
  return sink;
}

const running: ConsoleSessionStore[] = [];

afterEach(() => {
  running.splice(0).forEach((session) => session.stop());
});

/** Opens web1's console as a new client and starts reading it. */
async function openConsole(server: FakeServer, timings: ConsoleTimings = FAST) {
  const api = await loggedInApi(server);
  const join = await api.openConsole('agt-1', UUID);
  const start: ConsoleStart = {
    consoleId: join.console.console_id,
    clientId: join.client_id,
    writer: join.writer,
    console: join.console,
  };
  return { api, id: join.console.console_id, clientId: join.client_id, start: begin(api, start, timings) };
}

function begin(api: Api, start: ConsoleStart, timings: ConsoleTimings = FAST) {
  const session = createConsoleSession(api, start, timings);
  const sink = textSink();
  session.start(sink);
  running.push(session);
  return { session, sink };
}

/** The `after` of every output poll so far. */
function afters(server: FakeServer, id: string): number[] {
  return server.state.requests
    .filter((r) => r.startsWith(`GET /api/consoles/${id}/output?`))
    .map((r) => Number(new URLSearchParams(r.split('?')[1]).get('after')));
}

describe('console output', () => {
  it('writes chunks in order and moves `after` past each', async () => {
    const server = fakeServer();
    const { id, start } = await openConsole(server);
    server.consoles.print(id, 'login: ');
    await vi.waitFor(() => expect(start.sink.text).toBe('login: '));

    server.consoles.print(id, 'root\r\n');
    server.consoles.print(id, 'Password: ');
    await vi.waitFor(() => expect(start.sink.text).toBe('login: root\r\nPassword: '));
    expect(start.session.position()).toBe(3);
    expect(afters(server, id)).toEqual(expect.arrayContaining([0, 1, 3]));
    expect(afters(server, id)).toEqual([...afters(server, id)].sort((a, b) => a - b));
  });

  it('asks again at once while the server has more, then long-polls', async () => {
    const server = fakeServer();
    server.state.consoleBatch = 2;
    const api = await loggedInApi(server);
    const join = await api.openConsole('agt-1', UUID);
    const id = join.console.console_id;
    for (const word of ['a', 'b', 'c', 'd', 'e']) server.consoles.print(id, word);

    const { sink } = begin(api, { consoleId: id, clientId: join.client_id, writer: true });
    await vi.waitFor(() => expect(sink.text).toBe('abcde'));
    expect(afters(server, id).slice(0, 3)).toEqual([0, 2, 4]);
    const waits = server.state.requests.filter((r) => r.includes('/output?')).map((r) => r.match(/wait=(\d+)/)?.[1]);
    expect(waits.slice(0, 2)).toEqual(['0', '20']);
  });

  it('fetches chunks from their presigned URLs with no token and no cookies', async () => {
    const server = fakeServer();
    const { id, start } = await openConsole(server);
    server.consoles.print(id, 'hello');
    await vi.waitFor(() => expect(start.sink.text).toBe('hello'));

    expect(server.state.requests).toContain(`GET ${CHUNK_ORIGIN}/consoles/${id}/0000000001?X-Amz-Signature=fake1`);
    expect(server.state.chunkRequests).toEqual([{ authorization: null, credentials: 'omit' }]);
  });

  it('reads a closed session to its end, then stops polling', async () => {
    const server = fakeServer();
    const { id, start } = await openConsole(server);
    server.consoles.print(id, 'reboot: Power down\r\n');
    server.consoles.end(id, 'vm_stopped');

    await vi.waitFor(() => expect(start.session.getState().ended).toBe(true));
    expect(start.sink.text).toBe('reboot: Power down\r\n');
    expect(start.session.getState()).toMatchObject({ status: 'closed', closedReason: 'vm_stopped' });
    const polls = afters(server, id).length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(afters(server, id)).toHaveLength(polls);
  });

  it('stops polling when stopped, mid long poll', async () => {
    const server = fakeServer();
    server.state.consoleHoldMs = 10_000;
    const { id, start } = await openConsole(server);
    await vi.waitFor(() => expect(afters(server, id).length).toBe(2)); // the quick first poll, then a long one

    start.session.stop();
    server.consoles.print(id, 'too late');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(afters(server, id)).toHaveLength(2);
    expect(start.sink.writes).toBe(0);
  });

  it('backs off after a failed poll, says so, and carries on', async () => {
    const server = fakeServer();
    const api = await loggedInApi(server);
    const join = await api.openConsole('agt-1', UUID);
    const id = join.console.console_id;
    server.consoles.print(id, 'still here');
    server.failNext(`GET /api/consoles/${id}/output`, 503, 'service_unavailable', 'The service is busy.');

    const { session, sink } = begin(api, { consoleId: id, clientId: join.client_id, writer: true }, { retryMs: 200 });
    await vi.waitFor(() => expect(session.getState().outputError).toBe('The service is busy. Trying again in 1 s.'));
    expect(sink.text).toBe('');

    await vi.waitFor(() => expect(sink.text).toBe('still here'));
    expect(session.getState().outputError).toBe('');
  });

  it('asks for fresh URLs when a chunk cannot be fetched, and writes it once', async () => {
    const server = fakeServer();
    server.state.chunkFailures = 1;
    const { id, start } = await openConsole(server);
    server.consoles.print(id, 'one ');
    server.consoles.print(id, 'two');

    await vi.waitFor(() => expect(start.sink.text).toBe('one two'));
    expect(server.state.chunkRequests.length).toBeGreaterThanOrEqual(3);
    expect(afters(server, id).filter((after) => after === 0).length).toBeGreaterThanOrEqual(2);
  });

  it('gives up on a session the server does not know', async () => {
    const server = fakeServer();
    const api = await loggedInApi(server);
    const { session } = begin(api, { consoleId: 'f'.repeat(32), clientId: 'nobody', writer: false });

    await vi.waitFor(() => expect(session.getState().ended).toBe(true));
    expect(session.getState().outputError).toBe('No such console session.');
    expect(server.count(`GET /api/consoles/${'f'.repeat(32)}/output`)).toBe(1);
  });
});

describe('console input and the writer role', () => {
  it('sends what the writer types, coalesced and in order', async () => {
    const server = fakeServer();
    const { id, clientId, start } = await openConsole(server);

    for (const key of ['u', 'n', 'a', 'm', 'e', '\r']) start.session.type(key);
    await vi.waitFor(() => expect(server.state.consoles[0].inputs).toEqual(['uname\r']));
    start.session.type('q');
    await vi.waitFor(() => expect(server.state.consoles[0].inputs).toEqual(['uname\r', 'q']));
    expect(server.bodiesOf(`POST /api/consoles/${id}/input`)[0]).toEqual({ client_id: clientId, data: 'uname\r' });
  });

  it('sends nothing from a read-only tab and says why', async () => {
    const server = fakeServer();
    const first = await openConsole(server);
    const second = await openConsole(server);
    expect(second.start.session.getState().writer).toBe(false);

    second.start.session.type('x');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(server.count(`POST /api/consoles/${first.id}/input`)).toBe(0);
    expect(second.start.session.getState().inputError).toBe('This tab is read-only: take over typing to type here.');
  });

  it('takes over typing; the old writer learns it from its next poll or its next input', async () => {
    const server = fakeServer();
    const first = await openConsole(server);
    const second = await openConsole(server);

    await second.start.session.takeOver();
    expect(second.start.session.getState().writer).toBe(true);
    expect(server.bodiesOf(`POST /api/consoles/${first.id}/writer`)).toEqual([{ client_id: second.clientId }]);

    first.start.session.type('x');
    await vi.waitFor(() =>
      expect(first.start.session.getState().inputError).toBe(
        'Another tab took over typing, so what you typed was not sent. Take over typing to type here.',
      ),
    );
    expect(first.start.session.getState().writer).toBe(false);
    second.start.session.type('y');
    await vi.waitFor(() => expect(server.state.consoles[0].inputs).toEqual(['y']));
  });

  it('notices from a poll that another tab took over', async () => {
    const server = fakeServer();
    const first = await openConsole(server);
    server.state.consoles[0].writer = 'someone-else';
    server.consoles.print(first.id, '.');

    await vi.waitFor(() => expect(first.start.session.getState().writer).toBe(false));
  });

  it('sends input again after a backlog, before what was typed later', async () => {
    const server = fakeServer();
    const { id, start } = await openConsole(server, { retryMs: 300 });
    server.failNext(`POST /api/consoles/${id}/input`, 429, 'console_input_backlog', 'Too much input waits.');

    start.session.type('first');
    await vi.waitFor(() =>
      expect(start.session.getState().inputError).toBe(
        'The VM is not reading input as fast as it arrives; sending again in a moment.',
      ),
    );
    start.session.type(' second');
    await vi.waitFor(() => expect(server.state.consoles[0].inputs).toEqual(['first second']));
    expect(start.session.getState().inputError).toBe('');
  });

  it('closes: closing, then closed for the reason "requested", then quiet', async () => {
    const server = fakeServer();
    const { id, start } = await openConsole(server);

    await start.session.close();
    expect(server.count(`POST /api/consoles/${id}/close`)).toBe(1);
    await vi.waitFor(() => expect(start.session.getState().ended).toBe(true));
    expect(start.session.getState()).toMatchObject({ status: 'closed', closedReason: 'requested', closing: false });

    start.session.type('ignored');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(server.count(`POST /api/consoles/${id}/input`)).toBe(0);
  });

  it('says the console is closed when input arrives after it closed', async () => {
    const server = fakeServer();
    server.state.consoleHoldMs = 10_000;
    const { id, start } = await openConsole(server);
    await vi.waitFor(() => expect(afters(server, id).length).toBe(2));
    server.state.consoles[0].session.status = 'closed'; // not yet seen by the poll

    start.session.type('x');
    await vi.waitFor(() =>
      expect(start.session.getState().inputError).toBe('The console is closed: what you typed was not sent.'),
    );
  });
});

describe('console replay', () => {
  it('reads the transcript from the start with no client, and sends nothing', async () => {
    const server = fakeServer();
    const past = server.consoles.add({ status: 'closed', closed_reason: 'idle' });
    const id = past.session.console_id;
    server.consoles.print(id, 'Debian GNU/Linux 12 ');
    server.consoles.print(id, 'web1 ttyS0\r\n');
    const api = await loggedInApi(server);

    const { session, sink } = begin(api, { consoleId: id, clientId: null, writer: false, console: past.session });
    await vi.waitFor(() => expect(session.getState().ended).toBe(true));
    session.type('x');
    await session.takeOver();

    expect(sink.text).toBe('Debian GNU/Linux 12 web1 ttyS0\r\n');
    expect(session.getState()).toMatchObject({ replay: true, writer: false, status: 'closed', closedReason: 'idle' });
    const polls = server.state.requests.filter((r) => r.startsWith(`GET /api/consoles/${id}/output`));
    expect(polls[0]).toBe(`GET /api/consoles/${id}/output?after=0&wait=0`);
    expect(server.count(`POST /api/consoles/${id}/input`) + server.count(`POST /api/consoles/${id}/writer`)).toBe(0);
  });
});
