// Your email, name and role (GET /api/me).

import type { Resource } from '../state/useResource';
import type { Account, User } from '../types';

interface Props {
  /** GET /api/me, loaded by the page. */
  me: Resource<Account>;
  /** What the session already knows, shown until /api/me answers. */
  user: User;
}

export function Profile({ me, user }: Props) {
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
