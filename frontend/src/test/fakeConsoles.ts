// The fake API's serial consoles (docs/protocol.md, "Serial consoles"):
// opening (a new session, or joining the open one), the history, output long
// polls, presigned chunk downloads from another origin, input, taking over
// and closing. The test plays the agent: `print` adds output, `end` closes
// a session for a reason. A close asked through the API is `closing` until
// the next poll, as if the agent let go in between. A long poll holds until
// output or a status change arrives, but for at most `consoleHoldMs` (tests
// do not wait `wait` seconds).

import type { ConsoleClosedReason, ConsoleSession } from '../types';
import { fail, ok, page, type FakeRequest, type Route } from './fakeHttp';
import type { FakeServerState } from './fakeServer';
import { aConsole } from './fixtures';

export interface FakeConsole {
  session: ConsoleSession;
  /** Output chunk `seq` is `chunks[seq - 1]`. */
  chunks: Array<Uint8Array<ArrayBuffer>>;
  clients: string[];
  /** The client whose input is taken; null when none holds the role. */
  writer: string | null;
  /** Every input taken, in order. */
  inputs: string[];
}

/** Where chunk URLs point: another origin, as S3 is. */
export const CHUNK_ORIGIN = 'https://console-bucket.example.test';

const noConsole = () => fail(404, 'console_not_found', 'No such console session.');

export function fakeConsoles(state: FakeServerState) {
  const waiting = new Map<string, Set<() => void>>();

  function find(id: string): FakeConsole | undefined {
    return state.consoles.find((c) => c.session.console_id === id);
  }

  /** Wakes the long polls of one session. */
  function changed(id: string): void {
    const waiters = waiting.get(id);
    waiting.delete(id);
    waiters?.forEach((wake) => wake());
  }

  function hold(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = waiting.get(id) ?? new Set<() => void>();
      waiting.set(id, waiters);
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiters.add(wake);
    });
  }

  function add(over: Partial<ConsoleSession> = {}): FakeConsole {
    const n = state.consoles.length + 1;
    const session = aConsole({ console_id: n.toString(16).padStart(32, '0'), job_id: `job-console-${n}`, ...over });
    const made: FakeConsole = { session, chunks: [], clients: [], writer: null, inputs: [] };
    state.consoles.push(made);
    return made;
  }

  function joinClient(entry: FakeConsole): string {
    const clientId = `client-${state.consoles.indexOf(entry) + 1}-${entry.clients.length + 1}`;
    entry.clients.push(clientId);
    entry.writer ??= clientId;
    return clientId;
  }

  function open({ params }: FakeRequest): Response {
    const [agentId, vmRef] = params;
    if (!state.agents.some((a) => a.agent_id === agentId && a.approval === 'approved')) {
      return fail(404, 'agent_not_found', 'No such host.');
    }
    const vm = state.vms.find((v) => v.agent_id === agentId && (v.uuid === vmRef || v.name === vmRef));
    if (!vm) return fail(404, 'vm_not_found', `No VM '${vmRef}' on this host.`);
    const live = state.consoles.find((c) => c.session.vm_uuid === vm.uuid && c.session.status !== 'closed');
    const entry = live ?? add({ agent_id: agentId, vm_uuid: vm.uuid, vm_name: vm.name, status: state.consoleStartStatus });
    const clientId = joinClient(entry);
    return ok({ console: entry.session, client_id: clientId, writer: entry.writer === clientId }, live ? 200 : 201);
  }

  function list({ query }: FakeRequest): Response {
    const agentId = query.get('agent_id');
    const vmUuid = query.get('vm_uuid');
    const matching = state.consoles
      .map((c) => c.session)
      .filter((s) => (!agentId || s.agent_id === agentId) && (!vmUuid || s.vm_uuid === vmUuid))
      .reverse();
    const { items, next } = page(matching, query, state.pageSize);
    return ok({ consoles: items, next_cursor: next });
  }

  function chunkUrl(id: string, seq: number): string {
    return `${CHUNK_ORIGIN}/consoles/${id}/${String(seq).padStart(10, '0')}?X-Amz-Signature=fake${seq}`;
  }

  async function output({ params, query }: FakeRequest): Promise<Response> {
    const entry = find(params[0]);
    if (!entry) return noConsole();
    const after = Number(query.get('after') ?? 0);
    const wait = Number(query.get('wait') ?? 0);
    const session = entry.session;
    if (session.status === 'closing') Object.assign(session, { status: 'closed', closed_ms: 1_700_000_100_000 });
    if (entry.chunks.length <= after && wait > 0 && session.status !== 'closed') {
      await hold(session.console_id, Math.min(wait * 1000, state.consoleHoldMs));
    }
    const seqs = entry.chunks.map((_, i) => i + 1).filter((seq) => seq > after);
    const sent = seqs.slice(0, state.consoleBatch);
    return ok({
      chunks: sent.map((seq) => ({ seq, url: chunkUrl(session.console_id, seq), size: entry.chunks[seq - 1].length })),
      next: sent.length > 0 ? sent[sent.length - 1] : after,
      more: seqs.length > sent.length,
      status: session.status,
      closed_reason: session.closed_reason,
      writer: query.get('client_id') !== null && entry.writer === query.get('client_id'),
    });
  }

  function chunk({ params, headers, init }: FakeRequest): Response {
    state.chunkRequests.push({ authorization: headers.get('Authorization'), credentials: init.credentials ?? null });
    if (state.chunkFailures > 0) {
      state.chunkFailures -= 1;
      return new Response('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>', { status: 403 });
    }
    const bytes = find(params[0])?.chunks[Number(params[1]) - 1];
    return bytes ? new Response(bytes) : new Response('NoSuchKey', { status: 404 });
  }

  function input({ params, body }: FakeRequest): Response {
    const entry = find(params[0]);
    if (!entry) return noConsole();
    const data = body.data;
    if (typeof data !== 'string' || data.length < 1 || data.length > 4096) {
      return fail(400, 'invalid_request', "'data' must be 1 to 4096 characters.");
    }
    if (entry.session.status === 'closing' || entry.session.status === 'closed') {
      return fail(409, 'console_closed', 'The console session is closed.');
    }
    if (entry.writer !== body.client_id) return fail(409, 'console_read_only', 'Another client is typing.');
    entry.inputs.push(data);
    return ok({ seq: entry.inputs.length }, 202);
  }

  function takeOver({ params, body }: FakeRequest): Response {
    const entry = find(params[0]);
    if (!entry) return noConsole();
    if (typeof body.client_id !== 'string' || !entry.clients.includes(body.client_id)) {
      return fail(400, 'invalid_request', "'client_id' is not a client of this console.");
    }
    entry.writer = body.client_id;
    return ok({ console: entry.session, writer: true });
  }

  function close({ params }: FakeRequest): Response {
    const entry = find(params[0]);
    if (!entry) return noConsole();
    if (entry.session.status !== 'closed') {
      Object.assign(entry.session, { status: 'closing', closed_reason: 'requested' });
      changed(entry.session.console_id);
    }
    return ok(entry.session);
  }

  const routes: Route[] = [
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)\/console$/, handle: open },
    { method: 'GET', pattern: /^\/api\/consoles$/, handle: list },
    {
      method: 'GET',
      pattern: /^\/api\/consoles\/([^/]+)$/,
      handle: ({ params }) => {
        const entry = find(params[0]);
        return entry ? ok(entry.session) : noConsole();
      },
    },
    { method: 'GET', pattern: /^\/api\/consoles\/([^/]+)\/output$/, handle: output },
    { method: 'POST', pattern: /^\/api\/consoles\/([^/]+)\/input$/, handle: input },
    { method: 'POST', pattern: /^\/api\/consoles\/([^/]+)\/writer$/, handle: takeOver },
    { method: 'POST', pattern: /^\/api\/consoles\/([^/]+)\/close$/, handle: close },
    { method: 'GET', pattern: /^\/consoles\/([^/]+)\/(\d+)$/, open: true, handle: chunk },
  ];

  return {
    routes,
    /** A session made as if opened earlier (for the history and replays). */
    add,
    /** The agent uploads output: one chunk of text (UTF-8) or raw bytes. */
    print(consoleId: string, output: string | Uint8Array<ArrayBuffer>): void {
      const entry = find(consoleId)!;
      const bytes = typeof output === 'string' ? new TextEncoder().encode(output) : output;
      entry.chunks.push(bytes);
      entry.session.last_seq = entry.chunks.length;
      entry.session.bytes += bytes.length;
      changed(consoleId);
    },
    /** The agent has attached the console: an opening session is open. */
    attach(consoleId: string): void {
      find(consoleId)!.session.status = 'open';
      changed(consoleId);
    },
    /** The session ends the way the agent or the sweeper would end it. */
    end(consoleId: string, reason: ConsoleClosedReason): void {
      Object.assign(find(consoleId)!.session, { status: 'closed', closed_reason: reason, closed_ms: 1_700_000_100_000 });
      changed(consoleId);
    },
  };
}
