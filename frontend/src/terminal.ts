// The terminal a console view draws into, behind a small interface so the
// console's logic runs in tests without a browser (jsdom cannot lay out
// xterm; tests use a headless xterm instead, see src/test/terminal.ts).
//
// xterm.js is loaded only when a console opens: it is most of the app's
// weight and most visits never need it. It keeps its default DOM renderer,
// so the text on screen is in the page (`.xterm-rows`) for browser tests.

export interface ConsoleTerminal {
  /** Raw output bytes; UTF-8 sequences may be split across writes. */
  write(bytes: Uint8Array): void;
  /** What the operator types (xterm's `onData`); returns the unsubscribe. */
  onData(listener: (data: string) => void): () => void;
  focus(): void;
  dispose(): void;
}

/** Puts a terminal into `element`. */
export type TerminalFactory = (element: HTMLElement) => Promise<ConsoleTerminal>;

/** A serial console's usual size; the guest assumes it unless told otherwise. */
export const COLUMNS = 80;
export const ROWS = 24;

export const openXterm: TerminalFactory = async (element) => {
  const [{ Terminal }] = await Promise.all([import('@xterm/xterm'), import('@xterm/xterm/css/xterm.css')]);
  const terminal = new Terminal({
    cols: COLUMNS,
    rows: ROWS,
    scrollback: 5000,
    convertEol: false,
    cursorBlink: true,
    fontFamily: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace",
  });
  terminal.open(element);
  return {
    write: (bytes) => terminal.write(bytes),
    onData(listener) {
      const subscription = terminal.onData(listener);
      return () => subscription.dispose();
    },
    focus: () => terminal.focus(),
    dispose: () => terminal.dispose(),
  };
};
