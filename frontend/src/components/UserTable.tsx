// Every account with its role, whether it is disabled, and what an admin
// can do to it: change the role, disable or enable, reset the password.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { formatTime } from '../format';
import { useAction } from '../state/useAction';
import { ROLES, type Account, type Role } from '../types';
import { ConfirmButton } from './ConfirmButton';
import { FormError } from './FormError';
import { ResetPasswordForm } from './ResetPasswordForm';
import { TableHead } from './TableHead';

const HEADINGS = ['Email', 'Name', 'Role', 'Disabled', 'Created'];

interface Props {
  api: Pick<Api, 'updateUser' | 'setUserPassword'>;
  users: Account[];
  onChanged: (user: Account) => void;
}

const COLUMNS = HEADINGS.length + 1; // with the actions column

function UserRow({ api, user, onChanged }: { api: Props['api']; user: Account; onChanged: Props['onChanged'] }) {
  const action = useAction();
  const [resetting, setResetting] = useState(false);
  const [notice, setNotice] = useState('');

  function change(patch: { role?: Role; disabled?: boolean }, select?: HTMLSelectElement) {
    setNotice('');
    void action.run(async () => onChanged(await api.updateUser(user.user_id, patch))).then((ok) => {
      if (!ok && select) select.value = user.role; // show the role the server still has
    });
  }

  return (
    <>
      <tr data-testid="user-row" data-user-id={user.user_id} data-email={user.email} data-role={user.role}>
        <th scope="row" class="wrap">
          {user.email}
        </th>
        <td class="wrap" data-testid="user-name">
          {user.name}
        </td>
        <td>
          <select
            aria-label={`Role of ${user.email}`}
            data-action="change-role"
            value={user.role}
            disabled={action.busy}
            onChange={(event) => {
              const select = event.currentTarget;
              change({ role: select.value as Role }, select);
            }}
          >
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {role}
              </option>
            ))}
          </select>
        </td>
        <td data-testid="user-disabled">{user.disabled ? 'yes' : 'no'}</td>
        <td>{formatTime(user.created_ms)}</td>
        <td>
          <div class="actions">
            {user.disabled ? (
              <button
                type="button"
                data-action="enable"
                disabled={action.busy}
                onClick={() => change({ disabled: false })}
              >
                Enable
              </button>
            ) : (
              <ConfirmButton
                action="disable"
                label="Disable"
                disabled={action.busy}
                question={`Disable ${user.email}? Their sessions end now and their API keys stop working; they cannot log in until enabled again.`}
                confirmLabel={`Yes, disable ${user.email}`}
                onConfirm={() => change({ disabled: true })}
              />
            )}
            <button
              type="button"
              data-action="reset-password"
              aria-expanded={resetting}
              onClick={() => {
                setNotice('');
                setResetting(!resetting);
              }}
            >
              Reset password
            </button>
          </div>
          <FormError message={action.error} testId="action-error" />
          {notice && (
            <p class="success" role="status">
              {notice}
            </p>
          )}
        </td>
      </tr>
      {resetting && (
        <tr class="inline-form-row">
          <td colSpan={COLUMNS}>
            <ResetPasswordForm
              api={api}
              user={user}
              onDone={() => {
                setResetting(false);
                action.setError(''); // an earlier failure is old news once something here succeeded
                setNotice('Password reset; their sessions have ended.');
              }}
              onCancel={() => setResetting(false)}
            />
          </td>
        </tr>
      )}
    </>
  );
}

export function UserTable({ api, users, onChanged }: Props) {
  if (users.length === 0) return null;
  return (
    <table>
      <TableHead columns={HEADINGS} actions />
      <tbody>
        {users.map((user) => (
          <UserRow key={user.user_id} api={api} user={user} onChanged={onChanged} />
        ))}
      </tbody>
    </table>
  );
}
