// Your email, name and role (GET /api/me).

import type { Api } from '../api';
import { useResource } from '../state/useResource';
import type { User } from '../types';

interface Props {
  api: Pick<Api, 'me'>;
  /** What the session already knows, shown until /api/me answers. */
  user: User;
}

export function Profile({ api, user }: Props) {
  const me = useResource(api.me);
  const account = me.data;
  return (
    <section class="card" aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <dl class="facts profile">
        <div>
          <dt>Email</dt>
          <dd data-testid="account-email">{account?.email ?? user.email}</dd>
        </div>
        <div>
          <dt>Name</dt>
          <dd data-testid="account-name">{account ? account.name || '—' : '…'}</dd>
        </div>
        <div>
          <dt>Role</dt>
          <dd data-testid="account-role">{account?.role ?? user.role}</dd>
        </div>
      </dl>
      {me.error && (
        <p class="error" role="alert">
          {me.error}
        </p>
      )}
    </section>
  );
}
