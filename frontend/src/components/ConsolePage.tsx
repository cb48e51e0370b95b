// A VM's serial console (/consoles/{id}) or the replay of a past session's
// transcript (/consoles/{id}/replay). The page finds its client first (see
// consoleJoin.ts), then shows the terminal.

import { useEffect, useState } from 'preact/hooks';
import { errorMessage, type Api } from '../api';
import { startConsole, type ConsoleClients } from '../state/consoleJoin';
import type { ConsoleStart, ConsoleTimings } from '../state/consoleSession';
import { consolePath, type ConsoleRoute } from '../state/router';
import { formatTime } from '../format';
import type { TerminalFactory } from '../terminal';
import { ConsoleView } from './ConsoleView';
import { FormError } from './FormError';

/** What the console views run with; tests swap the terminal and the pace. */
export interface ConsoleOptions {
  terminal?: TerminalFactory;
  clients?: ConsoleClients;
  timings?: ConsoleTimings;
}

export type ConsolePageApi = Pick<
  Api,
  'getConsole' | 'openConsole' | 'consoleOutput' | 'consoleChunk' | 'consoleInput' | 'takeConsoleWriter' | 'closeConsole'
>;

interface Props {
  api: ConsolePageApi;
  route: ConsoleRoute;
  clients: ConsoleClients;
  terminal: TerminalFactory;
  timings?: ConsoleTimings;
  onNavigate: (path: string) => void;
}

function Heading({ start }: { start: ConsoleStart | null }) {
  const session = start?.console;
  const what = start?.clientId === null ? 'Console transcript' : 'Console';
  return (
    <header class="console-header">
      <h1>
        {what}
        {session ? ` of ${session.vm_name}` : ''}
      </h1>
      {session && <span class="muted">opened {formatTime(session.created_ms)}</span>}
    </header>
  );
}

export function ConsolePage({ api, route, clients, terminal, timings, onNavigate }: Props) {
  const [start, setStart] = useState<ConsoleStart | null>(null);
  const [error, setError] = useState('');
  const { consoleId, replay } = route;

  useEffect(() => {
    let live = true;
    setStart(null);
    setError('');
    startConsole(api, clients, consoleId, replay).then(
      (opening) => {
        if (!live) return;
        if (opening.kind === 'moved') onNavigate(consolePath(opening.consoleId));
        else setStart(opening.start);
      },
      (failure: unknown) => {
        if (live) setError(errorMessage(failure));
      },
    );
    return () => {
      live = false;
    };
  }, [api, clients, consoleId, replay]);

  return (
    <main class="layout console-page">
      <Heading start={start} />
      <section class="card" aria-label="Serial console">
        <FormError message={error} testId="console-error" />
        {!start && !error && <p class="muted">Connecting to the console…</p>}
        {start && (
          <ConsoleView key={`${consoleId}/${String(replay)}`} api={api} start={start} terminal={terminal} timings={timings} />
        )}
      </section>
    </main>
  );
}
