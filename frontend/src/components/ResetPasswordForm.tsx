// An admin sets a new password for someone (which ends all their sessions).

import type { Api } from '../api';
import { fieldValue } from '../forms';
import { useAction } from '../state/useAction';
import type { Account } from '../types';
import { FormError } from './FormError';
import { MAX_PASSWORD } from '../limits';

interface Props {
  api: Pick<Api, 'setUserPassword'>;
  user: Account;
  onDone: () => void;
  onCancel: () => void;
}

export function ResetPasswordForm({ api, user, onDone, onCancel }: Props) {
  const action = useAction();

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const ok = await action.run(async () => {
      await api.setUserPassword(user.user_id, fieldValue(form, 'new_password'));
    });
    if (ok) onDone();
  }

  return (
    <form class="inline-form" data-testid="reset-password-form" onSubmit={submit} noValidate>
      <label>
        New password for {user.email}
        <input name="new_password" type="password" autocomplete="new-password" maxLength={MAX_PASSWORD} />
      </label>
      <button type="submit" class="primary" disabled={action.busy}>
        {action.busy ? 'Saving…' : 'Set password'}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <FormError message={action.error} />
    </form>
  );
}
