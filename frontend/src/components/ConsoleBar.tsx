// Above a console's terminal: its state (and why it closed), whether this
// tab types into the VM or only watches, "Take over typing", "Close console",
// and what went wrong, in words.

import { consoleStatusWords } from '../format';
import type { ConsoleViewState } from '../state/consoleSession';
import { FormError } from './FormError';
import { toneOf } from './StatusBadge';

interface Props {
  state: ConsoleViewState;
  onTakeOver: () => void;
  onClose: () => void;
}

/** `data-writer` of `console-writer`, and what it says. */
function writerOf(state: ConsoleViewState): { key: string; words: string } {
  if (state.replay) return { key: 'replay', words: 'Replay of the transcript: read-only' };
  if (state.writer) return { key: 'writer', words: 'You are typing: what you type goes to the VM' };
  // A closed session has no keyboard to hold: saying another tab has it sent people looking for one.
  if (state.status === 'closed') return { key: 'closed', words: '' };
  return { key: 'read-only', words: 'Read-only: another tab has the keyboard' };
}

export function ConsoleBar({ state, onTakeOver, onClose }: Props) {
  const status = state.status ?? 'connecting';
  const live = !state.replay && state.status !== 'closing' && state.status !== 'closed';
  const writer = writerOf(state);
  return (
    <div class="console-bar">
      <div class="actions">
        <span
          class={`badge badge-${toneOf('console', status)}`}
          role="status"
          data-testid="console-status"
          data-status={status}
          data-reason={state.closedReason ?? ''}
        >
          {consoleStatusWords(state.status, state.closedReason)}
        </span>
        <span class="muted" data-testid="console-writer" data-writer={writer.key}>
          {writer.words}
        </span>
        {live && !state.writer && (
          <button type="button" data-testid="console-takeover" disabled={state.takingOver} onClick={onTakeOver}>
            {state.takingOver ? 'Taking over…' : 'Take over typing'}
          </button>
        )}
        {live && (
          <button type="button" class="danger" data-testid="console-close" disabled={state.closing} onClick={onClose}>
            {state.closing ? 'Closing…' : 'Close console'}
          </button>
        )}
      </div>
      <FormError message={state.outputError} testId="console-error" />
      <FormError message={state.inputError} testId="console-input-error" />
      <FormError message={state.actionError} testId="action-error" />
    </div>
  );
}
