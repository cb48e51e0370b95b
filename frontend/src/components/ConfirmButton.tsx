// A button whose action cannot be undone: the first press asks, in words,
// what will be lost; only "Yes, …" runs it. The question opens in place (an
// inline alertdialog, not window.confirm, so it is styled, testable and read
// by screen readers): focus moves to its safe choice, Cancel or Escape (on
// the question or its button) closes it and gives focus back to the button.
// Deleting a VM or deregistering a host asks for more (the typed name), in
// their own forms.

import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';

interface Props {
  /** The button's text ("Force stop"). */
  label: string;
  /** What the confirming button says ("Yes, force stop web1"). */
  confirmLabel: string;
  /** What will be lost: shown when the button is pressed. */
  question: ComponentChildren;
  onConfirm: () => void;
  disabled?: boolean;
  action?: string;
  ariaLabel?: string;
  title?: string;
  danger?: boolean;
}

export function ConfirmButton(props: Props) {
  const { label, confirmLabel, question, onConfirm, disabled = false, action, ariaLabel, title, danger } = props;
  const [asking, setAsking] = useState(false);
  const opener = useRef<HTMLButtonElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const id = useId();

  useLayoutEffect(() => {
    if (asking) cancel.current?.focus();
  }, [asking]);

  function close() {
    setAsking(false);
    opener.current?.focus();
  }

  return (
    <span
      class="confirm"
      onKeyDown={(event) => {
        if (asking && event.key === 'Escape') {
          event.stopPropagation();
          close();
        }
      }}
    >
      <button
        ref={opener}
        type="button"
        class={danger ? 'danger' : undefined}
        data-action={action}
        aria-label={ariaLabel}
        aria-expanded={asking}
        title={title}
        disabled={disabled}
        onClick={() => setAsking(!asking)}
      >
        {label}
      </button>
      {asking && (
        <span
          class="confirm-box"
          role="alertdialog"
          aria-labelledby={`${id}-q`}
          data-testid="confirm"
        >
          <span id={`${id}-q`} class="confirm-question">
            {question}
          </span>
          <span class="confirm-choices">
            <button
              type="button"
              class="danger"
              data-action="confirm"
              disabled={disabled}
              onClick={() => {
                setAsking(false);
                onConfirm();
              }}
            >
              {confirmLabel}
            </button>
            <button ref={cancel} type="button" data-action="cancel" onClick={close}>
              Cancel
            </button>
          </span>
        </span>
      )}
    </span>
  );
}
