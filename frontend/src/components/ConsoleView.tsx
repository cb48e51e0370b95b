// A console's terminal and the session that feeds it. The terminal is made
// once the box is on the page; leaving the view stops the polling, drops
// what was not yet sent and disposes the terminal.

import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { createConsoleSession, type ConsoleApi, type ConsoleStart, type ConsoleTimings } from '../state/consoleSession';
import { useStore } from '../state/useStore';
import type { TerminalFactory } from '../terminal';
import { ConsoleBar } from './ConsoleBar';
import { FormError } from './FormError';

interface Props {
  api: ConsoleApi;
  start: ConsoleStart;
  terminal: TerminalFactory;
  timings?: ConsoleTimings;
}

export function ConsoleView({ api, start, terminal, timings }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [session] = useState(() => createConsoleSession(api, start, timings));
  const [terminalError, setTerminalError] = useState('');
  const state = useStore(session, session.getState);

  useEffect(() => {
    let gone = false;
    let detach = () => {};
    let dispose = () => {};
    terminal(box.current!).then(
      (term) => {
        if (gone) return term.dispose();
        detach = term.onData((data) => session.type(data));
        dispose = () => term.dispose();
        session.start(term);
        if (start.clientId !== null) term.focus();
      },
      (error: unknown) => {
        if (!gone) setTerminalError(`The terminal could not be shown: ${errorMessage(error)}`);
      },
    );
    return () => {
      gone = true;
      session.stop();
      detach();
      dispose();
    };
  }, [session, terminal]);

  return (
    <>
      <ConsoleBar state={state} onTakeOver={() => void session.takeOver()} onClose={() => void session.close()} />
      <FormError message={terminalError} testId="console-error" />
      <div class="console-terminal" data-testid="console-terminal" ref={box} />
    </>
  );
}
