// Edit a host's labels as text, one `key=value` per line. Saving replaces all
// of them (PATCH /api/agents/{id}); the server's 400 message shows as it is.

import { useState } from 'preact/hooks';
import { formatLabels, parseLabels, type Labels } from '../labels';
import { useAction } from '../state/useAction';
import type { Agent } from '../types';
import { FormError } from './FormError';
import { MAX_LABELS_TEXT } from '../limits';

interface Props {
  agent: Agent;
  onSave: (labels: Labels) => Promise<void>;
  onDone: () => void;
}

export function LabelsForm({ agent, onSave, onDone }: Props) {
  const action = useAction();
  const [text, setText] = useState(() => formatLabels(agent.labels));
  const hintId = `labels-hint-${agent.agent_id}`;

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const parsed = parseLabels(text);
    if (parsed.error !== undefined) return action.setError(parsed.error);
    if (await action.run(() => onSave(parsed.labels))) onDone();
  }

  return (
    <form class="inline-form stacked" data-testid="labels-form" onSubmit={submit} noValidate>
      <label>
        Labels of {agent.name}
        <textarea
          name="labels"
          maxLength={MAX_LABELS_TEXT}
          class="mono"
          rows={Math.max(3, text.split('\n').length + 1)}
          value={text}
          spellcheck={false}
          autocomplete="off"
          aria-describedby={hintId}
          onInput={(event) => setText(event.currentTarget.value)}
        />
      </label>
      <p id={hintId} class="muted hint">
        One key=value per line, e.g. rack=r12. Keys are lowercase letters, digits, ".", "_" and "-".
      </p>
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save labels'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <FormError message={action.error} />
    </form>
  );
}
