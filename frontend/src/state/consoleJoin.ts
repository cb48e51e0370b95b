// How a console view gets its `client_id`, and how the Hosts page opens one.
//
// Opening a VM's console answers a `client_id`: this tab's handle for output,
// input and the writer role. It is remembered per tab (sessionStorage), so a
// reload of /consoles/{id} carries on as the same client (still the writer).
// A link opened anywhere else joins the session through the same open call,
// as the protocol has it (the writer only if the session has no live one);
// a session that has ended is shown as a read-only replay of its transcript.

import type { Api, ConsoleFilter } from '../api';
import type { ConsoleJoin, ConsoleSession, Page } from '../types';
import { consolePath } from './router';
import type { ConsoleStart } from './consoleSession';

export interface RememberedClient {
  clientId: string;
  writer: boolean;
}

export interface ConsoleClients {
  get(consoleId: string): RememberedClient | null;
  remember(join: ConsoleJoin): void;
}

const PREFIX = 'fleetvisor.console-client.';

/** The client ids this tab holds; storage that refuses (private modes, quotas) leaves them in memory. */
export function createConsoleClients(storage: Storage | null = tabStorage()): ConsoleClients {
  const memory = new Map<string, RememberedClient>();
  return {
    get(consoleId) {
      const known = memory.get(consoleId);
      if (known) return known;
      try {
        const saved = storage?.getItem(PREFIX + consoleId);
        const parsed = saved ? (JSON.parse(saved) as Partial<RememberedClient>) : null;
        if (parsed && typeof parsed.clientId === 'string') return { clientId: parsed.clientId, writer: parsed.writer === true };
      } catch {
        // unreadable: as if never stored
      }
      return null;
    },
    remember({ console, client_id, writer }) {
      const client = { clientId: client_id, writer };
      memory.set(console.console_id, client);
      try {
        storage?.setItem(PREFIX + console.console_id, JSON.stringify(client));
      } catch {
        // kept in memory only
      }
    },
  };
}

function tabStorage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.sessionStorage;
  } catch {
    return null;
  }
}

export type JoinApi = Pick<Api, 'getConsole' | 'openConsole'>;

/** What a console view starts with; `moved` when the linked session had ended and opening gave a new one. */
export type ConsoleOpening = { kind: 'start'; start: ConsoleStart } | { kind: 'moved'; consoleId: string };

/**
 * What /consoles/{id} (or, with `replay`, /consoles/{id}/replay) starts with:
 * this tab's remembered client, a new one from joining the open session, or
 * a replay from the start of the transcript.
 */
export async function startConsole(
  api: JoinApi,
  clients: ConsoleClients,
  consoleId: string,
  replay: boolean,
): Promise<ConsoleOpening> {
  const session: ConsoleSession = await api.getConsole(consoleId);
  const asReplay: ConsoleOpening = { kind: 'start', start: { consoleId, clientId: null, writer: false, console: session } };
  if (replay) return asReplay;
  const known = clients.get(consoleId);
  if (known) return { kind: 'start', start: { consoleId, ...known, console: session } };
  if (session.status === 'closed') return asReplay;
  const join = await api.openConsole(session.agent_id, session.vm_uuid);
  clients.remember(join);
  if (join.console.console_id !== consoleId) return { kind: 'moved', consoleId: join.console.console_id };
  return { kind: 'start', start: { consoleId, clientId: join.client_id, writer: join.writer, console: join.console } };
}

/** What the Hosts page does with consoles: open one, list past ones, go to one. */
export interface ConsoleOps {
  /** Opens (or joins) the VM's console and shows it; throws the server's refusal. */
  open(agentId: string, vmUuid: string): Promise<void>;
  list(filter: ConsoleFilter, cursor: string | null): Promise<Page<ConsoleSession>>;
  navigate(path: string): void;
}

export function consoleOps(
  api: Pick<Api, 'openConsole' | 'listConsoles'>,
  clients: ConsoleClients,
  navigate: (path: string) => void,
): ConsoleOps {
  return {
    async open(agentId, vmUuid) {
      const join = await api.openConsole(agentId, vmUuid);
      clients.remember(join);
      navigate(consolePath(join.console.console_id));
    },
    list: (filter, cursor) => api.listConsoles(filter, cursor),
    navigate,
  };
}
