// Change your password: current + new + confirm. The server's rules decide
// (its 400 weak_password message is shown as it is); afterwards this session
// carries on with the new token and every other session has ended.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { fieldValue } from '../forms';
import { sessionFrom, type SessionStore } from '../state/session';
import { useAction } from '../state/useAction';
import { FormError } from './FormError';
import { MAX_PASSWORD } from '../limits';

interface Props {
  api: Pick<Api, 'changePassword'>;
  session: SessionStore;
  onChanged: () => void;
}

export const PASSWORDS_DIFFER = 'The new password and its confirmation differ.';

export function PasswordForm({ api, session, onChanged }: Props) {
  const action = useAction();
  const [done, setDone] = useState(false);

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    setDone(false);
    const next = fieldValue(form, 'new_password');
    if (next !== fieldValue(form, 'confirm_password')) return action.setError(PASSWORDS_DIFFER);
    const ok = await action.run(async () => {
      const answer = await api.changePassword(fieldValue(form, 'current_password'), next);
      session.logIn(sessionFrom(answer));
    });
    if (!ok) return;
    form.reset();
    setDone(true);
    onChanged();
  }

  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <form class="stack narrow" data-testid="password-form" onSubmit={submit} noValidate>
        <label>
          Current password
          <input name="current_password" type="password" autocomplete="current-password" maxLength={MAX_PASSWORD} />
        </label>
        <label>
          New password
          <input
            name="new_password"
            type="password"
            autocomplete="new-password"
            aria-describedby="password-rules"
            maxLength={MAX_PASSWORD}
          />
        </label>
        <p id="password-rules" class="muted hint">
          At least 12 characters; not your email, not a common password.
        </p>
        <label>
          Confirm new password
          <input name="confirm_password" type="password" autocomplete="new-password" maxLength={MAX_PASSWORD} />
        </label>
        <FormError message={action.error} />
        {done && (
          <p class="success" role="status" data-testid="form-success">
            Password changed. Your other sessions have been logged out.
          </p>
        )}
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Changing…' : 'Change password'}
        </button>
      </form>
    </section>
  );
}
