// The login page without a session, the app with one. On load it first asks
// for the session the refresh cookie may still hold, so a reload keeps the
// operator logged in; while that is under way it shows only "Loading…".

import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import type { FleetOptions } from '../state/fleet';
import type { ConsoleOptions } from './ConsolePage';
import type { JobsOptions } from '../state/jobs';
import { appRouter, type Router } from '../state/router';
import type { SessionStore } from '../state/session';
import { keepSessionFresh } from '../state/sessionRefresh';
import { useStore } from '../state/useStore';
import { LoginForm } from './LoginForm';
import { Shell } from './Shell';

interface Props {
  api: Api;
  session: SessionStore;
  router?: Router;
  /** This control plane's address (default: the page's origin). */
  origin?: string;
  fleetOptions?: FleetOptions;
  jobsOptions?: JobsOptions;
  consoleOptions?: ConsoleOptions;
}

/** False until the page-load refresh has answered. */
function useRestoredSession(api: Api, session: SessionStore): boolean {
  const [restored, setRestored] = useState(false);
  useEffect(() => {
    let live = true;
    void api.restoreSession().finally(() => {
      if (live) setRestored(true);
    });
    return () => {
      live = false;
    };
  }, [api]);
  useEffect(() => keepSessionFresh(session, api.refreshSession), [api, session]);
  return restored;
}

export function App({
  api,
  session,
  router = appRouter,
  origin = window.location.origin,
  fleetOptions,
  jobsOptions,
  consoleOptions,
}: Props) {
  const restored = useRestoredSession(api, session);
  const { session: current, notice } = useStore(session, session.snapshot);
  if (current === null && !restored) {
    return (
      <main class="login">
        <p class="muted" role="status">
          Loading…
        </p>
      </main>
    );
  }
  if (current === null) return <LoginForm key={notice} api={api} session={session} notice={notice} />;
  return (
    <Shell
      key={current.user.user_id}
      api={api}
      session={session}
      user={current.user}
      router={router}
      origin={origin}
      fleetOptions={fleetOptions}
      jobsOptions={jobsOptions}
      consoleOptions={consoleOptions}
    />
  );
}
