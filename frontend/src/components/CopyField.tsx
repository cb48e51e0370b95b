// A read-only field holding something to copy (a secret shown once, a
// command), with a Copy button. The value is a text child of the textarea, so
// it is both the field's value and its text.

import { useRef, useState } from 'preact/hooks';

interface Props {
  label: string;
  value: string;
  testId: string;
}

const CHARS_PER_ROW = 100;

async function writeClipboard(text: string): Promise<void> {
  if (!navigator.clipboard) throw new Error('no clipboard');
  await navigator.clipboard.writeText(text);
}

export function CopyField({ label, value, testId }: Props) {
  const field = useRef<HTMLTextAreaElement>(null);
  const [status, setStatus] = useState('');

  async function copy() {
    field.current?.select();
    try {
      await writeClipboard(value);
      setStatus('Copied.');
    } catch {
      setStatus('Selected: press Ctrl+C (or ⌘C) to copy.');
    }
  }

  return (
    <div class="copy-field">
      <label>
        {label}
        <textarea
          ref={field}
          class="mono"
          readOnly
          rows={Math.min(4, Math.max(1, Math.ceil(value.length / CHARS_PER_ROW)))}
          spellcheck={false}
          autocomplete="off"
          data-testid={testId}
          onFocus={(event) => event.currentTarget.select()}
        >
          {value}
        </textarea>
      </label>
      <div class="copy-row">
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        <span class="muted" role="status">
          {status}
        </span>
      </div>
    </div>
  );
}
