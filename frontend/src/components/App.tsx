// Login page without a session, hosts page with one.

import type { Api } from '../api';
import type { FleetOptions } from '../state/fleet';
import type { SessionStore } from '../state/session';
import { useStore } from '../state/useStore';
import { HostsPage } from './HostsPage';
import { LoginForm } from './LoginForm';

interface Props {
  api: Api;
  session: SessionStore;
  fleetOptions?: FleetOptions;
}

export function App({ api, session, fleetOptions }: Props) {
  const { session: current, notice } = useStore(session, session.snapshot);
  if (current === null) return <LoginForm key={notice} api={api} session={session} notice={notice} />;
  return (
    <HostsPage
      key={current.token}
      api={api}
      user={current.user}
      onLogout={session.logOut}
      options={fleetOptions}
    />
  );
}
