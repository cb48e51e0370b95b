// The confirmation step before a host leaves the fleet: the operator types
// the host's name, then DELETE /api/agents/{id}.

import { useState } from 'preact/hooks';
import { useAction } from '../state/useAction';
import type { Agent } from '../types';
import { FormError } from './FormError';
import { MAX_HOST_NAME } from '../limits';

interface Props {
  agent: Agent;
  onConfirm: () => Promise<void>;
  onCancel: () => void;
}

export function DeregisterForm({ agent, onConfirm, onCancel }: Props) {
  const action = useAction();
  const [typed, setTyped] = useState('');
  const matches = typed === agent.name;

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    if (!matches) return action.setError(`Type the host name, ${agent.name}, to confirm.`);
    await action.run(onConfirm);
  }

  return (
    <form class="inline-form stacked danger-zone" data-testid="deregister-form" onSubmit={submit} noValidate>
      <p>
        Deregistering <strong>{agent.name}</strong> ends its agent's access at once and removes the host and its VM
        list from Fleetvisor. The VMs on the host itself are not touched.
      </p>
      <label>
        Type the host name to confirm
        <input
          name="confirm_host_name"
          maxLength={MAX_HOST_NAME}
          type="text"
          autocomplete="off"
          spellcheck={false}
          value={typed}
          onInput={(event) => setTyped(event.currentTarget.value)}
        />
      </label>
      <div class="actions">
        <button type="submit" class="danger" data-action="confirm-deregister" disabled={!matches || action.busy}>
          {action.busy ? 'Deregistering…' : `Deregister ${agent.name}`}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <FormError message={action.error} />
    </form>
  );
}
