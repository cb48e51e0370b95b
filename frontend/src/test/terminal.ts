// A real xterm.js that is never opened: jsdom cannot lay one out (no canvas,
// no matchMedia), but an unopened Terminal still parses what is written
// (UTF-8 split across writes included) into its buffer, and `input` fires
// onData as typing does. Console tests read the screen from the buffer.

import { Terminal } from '@xterm/xterm';
import { COLUMNS, ROWS, type ConsoleTerminal, type TerminalFactory } from '../terminal';

export interface HeadlessTerminal extends ConsoleTerminal {
  /** The screen and scrollback as text: each line without trailing blanks, no empty lines at the end. */
  text(): string;
  /** What the operator types, as xterm reports it. */
  type(data: string): void;
  /** Every write, in order. */
  writes: Uint8Array[];
  disposed: boolean;
  /** The box the view gave it. */
  element: HTMLElement;
}

/** A factory for the console view, and the terminals it made (newest last). */
export function headlessTerminals() {
  const made: HeadlessTerminal[] = [];
  const factory: TerminalFactory = async (element) => {
    const xterm = new Terminal({ cols: COLUMNS, rows: ROWS });
    const terminal: HeadlessTerminal = {
      writes: [],
      disposed: false,
      element,
      write(bytes) {
        terminal.writes.push(bytes);
        xterm.write(bytes);
      },
      onData(listener) {
        const subscription = xterm.onData(listener);
        return () => subscription.dispose();
      },
      focus() {},
      dispose() {
        terminal.disposed = true;
        xterm.dispose();
      },
      text() {
        const buffer = xterm.buffer.active;
        const lines: string[] = [];
        for (let y = 0; y < buffer.length; y++) lines.push((buffer.getLine(y)?.translateToString() ?? '').trimEnd());
        return lines.join('\n').replace(/\n+$/, '');
      },
      type: (data) => xterm.input(data),
    };
    made.push(terminal);
    return terminal;
  };
  return { factory, made, last: () => made[made.length - 1] };
}
