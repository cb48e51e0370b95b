// A new API key: name, scopes, optional expiry in days.

import type { Api } from '../api';
import { fieldValue, fieldValues, optionalInteger } from '../forms';
import { useAction } from '../state/useAction';
import { SCOPES, type NewApiKey, type Scope } from '../types';
import { FormError } from './FormError';
import { MAX_KEY_NAME } from '../limits';

interface Props {
  api: Pick<Api, 'createApiKey'>;
  onCreated: (key: NewApiKey) => void;
}

const SCOPE_HINTS: Record<Scope, string> = {
  read: 'read everything you can see',
  operate: 'read, act on VMs, cancel jobs',
  admin: 'everything you may do',
};

export function ApiKeyForm({ api, onCreated }: Props) {
  const action = useAction();

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const scopes = fieldValues(form, 'scope') as Scope[];
    const days = optionalInteger(fieldValue(form, 'expires_in_days'));
    if (scopes.length === 0) return action.setError('Choose at least one scope.');
    if (Number.isNaN(days)) return action.setError('Expiry must be a whole number of days.');
    const name = fieldValue(form, 'key_name').trim();
    await action.run(async () => {
      const request = days === undefined ? { name, scopes } : { name, scopes, expires_in_days: days };
      const key = await api.createApiKey(request);
      form.reset();
      onCreated(key);
    });
  }

  return (
    <form class="stack" data-testid="api-key-form" onSubmit={submit} noValidate>
      <h3>New key</h3>
      <div class="row">
        <label>
          Name
          <input name="key_name" type="text" autocomplete="off" maxLength={MAX_KEY_NAME} />
        </label>
        <label>
          Expires after (days, optional)
          <input name="expires_in_days" type="number" min={1} step={1} inputMode="numeric" />
        </label>
      </div>
      <fieldset class="scopes">
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} class="check">
            <input type="checkbox" name="scope" value={scope} defaultChecked={scope === 'read'} />
            <span>
              <code>{scope}</code> <span class="muted">— {SCOPE_HINTS[scope]}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <FormError message={action.error} />
      <button type="submit" class="primary" disabled={action.busy}>
        {action.busy ? 'Creating…' : 'Create key'}
      </button>
    </form>
  );
}
