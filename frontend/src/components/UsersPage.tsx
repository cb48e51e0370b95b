// The Users page (admins): every account, and a form for a new one.

import type { Api } from '../api';
import { usePagedList } from '../state/useResource';
import type { Account } from '../types';
import { LoadMore } from './LoadMore';
import { UserForm } from './UserForm';
import { UserTable } from './UserTable';

interface Props {
  api: Pick<Api, 'listUsers' | 'createUser' | 'updateUser' | 'setUserPassword'>;
}

const idOf = (user: Account) => user.user_id;

export function UsersPage({ api }: Props) {
  const users = usePagedList(api.listUsers, idOf);

  function replace(user: Account) {
    users.update((list) => list.map((u) => (u.user_id === user.user_id ? user : u)));
  }

  return (
    <main class="layout">
      <h1>Users</h1>
      <UserForm api={api} onCreated={(user) => users.update((list) => [user, ...list])} />
      <section class="card" aria-labelledby="users-title">
        <h2 id="users-title">All users</h2>
        {users.error && (
          <p class="error" role="alert">
            {users.error}
          </p>
        )}
        <UserTable api={api} users={users.items} onChanged={replace} />
        {users.loading && <p class="muted">Loading users…</p>}
        <LoadMore list={users} testId="users-more" />
      </section>
    </main>
  );
}
