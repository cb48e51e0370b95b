// The Account page: who you are, whether new hosts need your approval, your
// password, your sessions, your API keys, your SSH keys.

import type { Api } from '../api';
import type { SessionStore } from '../state/session';
import { useResource } from '../state/useResource';
import type { User } from '../types';
import { ApiKeys } from './ApiKeys';
import { HostApprovalSetting } from './HostApprovalSetting';
import { PasswordForm } from './PasswordForm';
import { Profile } from './Profile';
import { SessionList } from './SessionList';
import { SshKeys } from './SshKeys';

interface Props {
  api: Api;
  session: SessionStore;
  user: User;
  /** This browser's session is over (logged out everywhere, or revoked here). */
  onSessionEnded: () => void;
}

export function AccountPage({ api, session, user, onSessionEnded }: Props) {
  const me = useResource(api.me);
  const sessions = useResource(api.listSessions);
  return (
    <main class="layout">
      <h1>Account</h1>
      <Profile me={me} user={user} />
      <HostApprovalSetting api={api} me={me} />
      <PasswordForm api={api} session={session} onChanged={() => void sessions.reload()} />
      <SessionList api={api} sessions={sessions} onSessionEnded={onSessionEnded} />
      <ApiKeys api={api} />
      <SshKeys api={api} />
    </main>
  );
}
