// A new account: email, name, role, initial password (the server's password
// rules apply; its message is shown as it is).

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { fieldValue } from '../forms';
import { useAction } from '../state/useAction';
import { ROLES, type Account, type Role } from '../types';
import { FormError } from './FormError';
import { MAX_EMAIL, MAX_PASSWORD, MAX_USER_NAME } from '../limits';

interface Props {
  api: Pick<Api, 'createUser'>;
  onCreated: (user: Account) => void;
}

export function UserForm({ api, onCreated }: Props) {
  const action = useAction();
  const [created, setCreated] = useState('');

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    setCreated('');
    await action.run(async () => {
      const user = await api.createUser({
        email: fieldValue(form, 'email').trim(),
        name: fieldValue(form, 'name').trim(),
        role: fieldValue(form, 'role') as Role,
        password: fieldValue(form, 'password'),
      });
      form.reset();
      setCreated(user.email);
      onCreated(user);
    });
  }

  return (
    <section class="card" aria-labelledby="new-user-title">
      <h2 id="new-user-title">New user</h2>
      <form class="stack" data-testid="user-form" onSubmit={submit} noValidate>
        <div class="row">
          <label>
            Email
            <input name="email" type="text" inputMode="email" spellcheck={false} autocomplete="off" maxLength={MAX_EMAIL} />
          </label>
          <label>
            Name
            <input name="name" type="text" autocomplete="off" maxLength={MAX_USER_NAME} />
          </label>
          <label>
            Role
            <select name="role">
              {ROLES.map((role) => (
                <option key={role} value={role}>
                  {role}
                </option>
              ))}
            </select>
          </label>
          <label>
            Initial password
            <input name="password" type="password" autocomplete="new-password" maxLength={MAX_PASSWORD} />
          </label>
        </div>
        <FormError message={action.error} />
        {created && (
          <p class="success" role="status" data-testid="form-success">
            Created {created}.
          </p>
        )}
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Creating…' : 'Create user'}
        </button>
      </form>
    </section>
  );
}
