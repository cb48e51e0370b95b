// One console view's conversation with the API (docs/protocol.md, "Serial
// consoles"), kept apart from xterm so it can be tested without a browser:
//
// - Output: long-poll `output?after=SEQ`, fetch each chunk's presigned URL
//   (a few ahead), write the bytes to the terminal in `seq` order and only
//   then move `after` on. `more` asks again at once; a closed session is read
//   to its end and then nothing polls any more. Network errors, 429 and 5xx
//   back off (doubling, capped under the 30 s a writer may stay silent); a
//   chunk that cannot be fetched (its URL expired) is asked for again.
// - Input (the writer only): coalesced and ordered by the input queue.
// - Take over typing, close, and the writer role as each poll reports it.
//
// A replay (`clientId` null) polls from 0 with no client and never sends.

import { ApiError, errorMessage, type Api } from '../api';
import type { ConsoleChunk, ConsoleClosedReason, ConsoleOutput, ConsoleSession, ConsoleStatus } from '../types';
import { createInputQueue, type SendVerdict } from './consoleInput';
import { createStore } from './store';

export type ConsoleApi = Pick<
  Api,
  'consoleOutput' | 'consoleChunk' | 'consoleInput' | 'takeConsoleWriter' | 'closeConsole'
>;

/** Where output goes: the terminal. It decodes UTF-8 across writes. */
export interface ConsoleSink {
  write(bytes: Uint8Array): void;
}

export interface ConsoleTimings {
  /** How long the server may hold a poll (s). */
  waitSeconds?: number;
  /** The first pause after a failed poll; it doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How long a keystroke waits for the rest of its burst. */
  inputDelayMs?: number;
}

export interface ConsoleStart {
  consoleId: string;
  /** This terminal's handle; null for a read-only replay of the transcript. */
  clientId: string | null;
  writer: boolean;
  /** What the server last said about the session, if anything. */
  console?: ConsoleSession | null;
}

export interface ConsoleViewState {
  /** Null until the first answer. */
  status: ConsoleStatus | null;
  closedReason: ConsoleClosedReason | null;
  /** This tab is the one whose typing reaches the VM. */
  writer: boolean;
  /** A replay: no input, no writer, no close. */
  replay: boolean;
  /** The session is closed and its output read to the end: nothing polls any more. */
  ended: boolean;
  /** Why output is not arriving (and that it is being tried again); '' when it flows. */
  outputError: string;
  /** Why what was typed did not reach the VM. */
  inputError: string;
  /** Why taking over or closing failed. */
  actionError: string;
  takingOver: boolean;
  closing: boolean;
}

export const WAIT_SECONDS = 20;
export const RETRY_MS = 1000;
/** Under the 30 s after which a silent writer loses the role. */
export const MAX_RETRY_MS = 15_000;
/** Chunk downloads running ahead of the one being written. */
const PREFETCH = 4;

/** A session only moves forward; an answer sent before a later one must not undo it. */
const STATUS_ORDER: Record<ConsoleStatus, number> = { opening: 0, open: 1, closing: 2, closed: 3 };

/** A failure that asking again may cure: no answer, throttled, a server fault, an expired chunk URL. */
function isPassing(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  return error.status === 0 || error.status === 429 || error.status >= 500 || error.code === 'chunk_unavailable';
}

const INPUT_WORDS: Record<string, string> = {
  console_read_only: 'Another tab took over typing, so what you typed was not sent. Take over typing to type here.',
  console_closed: 'The console is closed: what you typed was not sent.',
  console_input_backlog: 'The VM is not reading input as fast as it arrives; sending again in a moment.',
};

export function inputErrorWords(error: unknown): string {
  const code = error instanceof ApiError ? error.code : '';
  return INPUT_WORDS[code] ?? `What you typed was not sent: ${errorMessage(error)}`;
}

function initialState(start: ConsoleStart): ConsoleViewState {
  return {
    status: start.console?.status ?? null,
    closedReason: start.console?.closed_reason ?? null,
    writer: start.clientId !== null && start.writer,
    replay: start.clientId === null,
    ended: false,
    outputError: '',
    inputError: '',
    actionError: '',
    takingOver: false,
    closing: false,
  };
}

export function createConsoleSession(api: ConsoleApi, start: ConsoleStart, timings: ConsoleTimings = {}) {
  const { consoleId, clientId } = start;
  const waitSeconds = timings.waitSeconds ?? WAIT_SECONDS;
  const retryMs = timings.retryMs ?? RETRY_MS;
  const maxRetryMs = timings.maxRetryMs ?? MAX_RETRY_MS;
  const store = createStore(initialState(start));
  const aborter = new AbortController();
  let sink: ConsoleSink | null = null;
  let stopped = false;
  let started = false;
  let after = 0;
  let wake: (() => void) | null = null;
  /** Bumped when this tab takes over: a poll sent before then may still say "not the writer". */
  let writerEpoch = 0;

  function update(change: Partial<ConsoleViewState>): void {
    if (!stopped) store.update(() => change);
  }

  const input = createInputQueue({
    send: async (data) => {
      await api.consoleInput(consoleId, clientId ?? '', data);
    },
    onError: inputFailed,
    onSent: () => {
      if (store.get().inputError) update({ inputError: '' });
    },
    delayMs: timings.inputDelayMs,
  });

  /** Waits `ms`, or less if the session stops meanwhile. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  function apply(status: ConsoleStatus, closedReason: ConsoleClosedReason | null, writer?: boolean): void {
    const shown = store.get().status;
    const behind = shown !== null && STATUS_ORDER[status] < STATUS_ORDER[shown];
    const change: Partial<ConsoleViewState> = behind ? {} : { status, closedReason };
    if (writer !== undefined && !store.get().replay) {
      if (!writer && store.get().writer) input.clear();
      change.writer = writer;
    }
    update(change);
  }

  /** Writes the chunks past `after` in order, fetching a few ahead; `after` follows each write. */
  async function writeChunks(chunks: ConsoleChunk[]): Promise<void> {
    const fresh = chunks.filter((chunk) => chunk.seq > after).sort((a, b) => a.seq - b.seq);
    const downloads = new Map<number, Promise<Uint8Array>>();
    const download = (i: number): Promise<Uint8Array> => {
      let pending = downloads.get(i);
      if (pending === undefined) {
        pending = api.consoleChunk(fresh[i].url, aborter.signal);
        pending.catch(() => {}); // awaited below, or dropped with the batch
        downloads.set(i, pending);
      }
      return pending;
    };
    for (let i = 0; i < fresh.length; i++) {
      for (let ahead = i + 1; ahead < Math.min(i + PREFETCH, fresh.length); ahead++) void download(ahead);
      const bytes = await download(i);
      if (stopped) return;
      sink?.write(bytes);
      after = fresh[i].seq;
    }
  }

  /** One poll and its chunks; resolves whether to poll again. */
  async function pollOnce(first: boolean): Promise<boolean> {
    const closed = store.get().status === 'closed';
    const wait = first || closed ? 0 : waitSeconds;
    const epoch = writerEpoch;
    const answer: ConsoleOutput = await api.consoleOutput(consoleId, { after, wait, clientId, signal: aborter.signal });
    if (stopped) return false;
    apply(answer.status, answer.closed_reason, epoch === writerEpoch ? answer.writer : undefined);
    await writeChunks(answer.chunks);
    after = Math.max(after, answer.next);
    return answer.more || answer.status !== 'closed';
  }

  async function run(): Promise<void> {
    let delay = retryMs;
    let first = true;
    while (!stopped) {
      try {
        const again = await pollOnce(first);
        first = false;
        delay = retryMs;
        if (store.get().outputError) update({ outputError: '' });
        if (!again) break;
      } catch (error) {
        if (stopped) return;
        if (!isPassing(error)) {
          update({ outputError: errorMessage(error) });
          break;
        }
        update({ outputError: `${errorMessage(error)} Trying again in ${Math.ceil(delay / 1000)} s.` });
        await pause(delay);
        delay = Math.min(delay * 2, maxRetryMs);
      }
    }
    input.stop();
    update({ ended: true });
  }

  function inputFailed(error: unknown): SendVerdict {
    update({ inputError: inputErrorWords(error) });
    const code = error instanceof ApiError ? error.code : '';
    if (code === 'console_read_only') update({ writer: false });
    if (code !== 'console_input_backlog') return 'drop';
    const seconds = error instanceof ApiError ? error.retryAfter : null;
    return { retryAfterMs: seconds !== null ? seconds * 1000 : retryMs };
  }

  /** Runs a button's call with its busy flag; its failure shows in `actionError`. */
  async function act(busy: 'takingOver' | 'closing', call: () => Promise<void>): Promise<void> {
    update({ [busy]: true, actionError: '' });
    try {
      await call();
    } catch (error) {
      update({ actionError: errorMessage(error) });
    } finally {
      update({ [busy]: false });
    }
  }

  return {
    getState: store.get,
    subscribe: store.subscribe,
    /** Starts reading output into `target` (once). */
    start(target: ConsoleSink): void {
      if (started || stopped) return;
      started = true;
      sink = target;
      void run();
    },
    /** Stops polling and sending; a poll or download in flight is abandoned. */
    stop(): void {
      stopped = true;
      input.stop();
      aborter.abort();
      wake?.();
    },
    /** What the operator typed; sent only while this tab is the writer of a live session. */
    type(data: string): void {
      if (store.get().replay || store.get().ended || store.get().status === 'closing' || store.get().status === 'closed') return;
      if (!store.get().writer) {
        update({ inputError: 'This tab is read-only: take over typing to type here.' });
        return;
      }
      input.push(data);
    },
    takeOver: () =>
      act('takingOver', async () => {
        if (clientId === null) return;
        const answer = await api.takeConsoleWriter(consoleId, clientId);
        writerEpoch += 1;
        apply(answer.console.status, answer.console.closed_reason, answer.writer);
        update({ inputError: '' });
      }),
    close: () =>
      act('closing', async () => {
        const closed = await api.closeConsole(consoleId);
        apply(closed.status, closed.closed_reason);
      }),
    /** The `after` of the next poll (for tests). */
    position: () => after,
  };
}

export type ConsoleSessionStore = ReturnType<typeof createConsoleSession>;
