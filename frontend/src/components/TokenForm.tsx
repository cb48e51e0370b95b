// A new enrolment token: how many hosts it may enrol, how long it lives, a note.

import type { Api, EnrollmentTokenRequest } from '../api';
import { DEFAULT_TOKEN_LIFETIME_S, TOKEN_LIFETIMES } from '../enrollment';
import { fieldValue, optionalInteger } from '../forms';
import { useAction } from '../state/useAction';
import type { NewEnrollmentToken } from '../types';
import { FormError } from './FormError';
import { MAX_TOKEN_NOTE } from '../limits';

interface Props {
  api: Pick<Api, 'createEnrollmentToken'>;
  onCreated: (token: NewEnrollmentToken) => void;
}

function clearNote(form: HTMLFormElement): void {
  const note = form.elements.namedItem('note');
  if (note instanceof HTMLInputElement) note.value = '';
}

export function TokenForm({ api, onCreated }: Props) {
  const action = useAction();

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const uses = optionalInteger(fieldValue(form, 'uses'));
    if (Number.isNaN(uses)) return action.setError('Uses must be a whole number.');
    const request: EnrollmentTokenRequest = { ttl_seconds: Number(fieldValue(form, 'ttl_seconds')) };
    if (uses !== undefined) request.uses = uses;
    const note = fieldValue(form, 'note').trim();
    if (note !== '') request.note = note;
    await action.run(async () => {
      const token = await api.createEnrollmentToken(request);
      clearNote(form); // uses and lifetime stay, for the next host
      onCreated(token);
    });
  }

  return (
    <section class="card" aria-labelledby="new-token-form-title">
      <h2 id="new-token-form-title">Create a token</h2>
      <form class="stack" data-testid="token-form" onSubmit={submit} noValidate>
        <div class="row">
          <label>
            Uses (hosts it may enrol)
            <input name="uses" type="number" min={1} step={1} inputMode="numeric" defaultValue="1" />
          </label>
          <label>
            Lifetime
            <select name="ttl_seconds">
              {TOKEN_LIFETIMES.map(({ seconds, label }) => (
                <option key={seconds} value={String(seconds)} selected={seconds === DEFAULT_TOKEN_LIFETIME_S}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Note (optional)
            <input name="note" type="text" autocomplete="off" placeholder="e.g. rack 3, hv7" maxLength={MAX_TOKEN_NOTE} />
          </label>
        </div>
        <FormError message={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Creating…' : 'Create token'}
        </button>
      </form>
    </section>
  );
}
