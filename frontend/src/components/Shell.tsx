// Everything a logged-in operator sees: the top bar and the current page.

import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import { consoleOps, createConsoleClients } from '../state/consoleJoin';
import type { FleetOptions } from '../state/fleet';
import type { JobsOptions } from '../state/jobs';
import { NavigateContext } from '../state/navigation';
import { consoleRouteOf, pageOf, vmRouteOf, type Page, type Router } from '../state/router';
import { isAdmin, type SessionStore } from '../state/session';
import { useStore } from '../state/useStore';
import { openXterm } from '../terminal';
import type { User } from '../types';
import { AccountPage } from './AccountPage';
import { ApiReferencePage } from './ApiReferencePage';
import { AppHeader } from './AppHeader';
import { AuditPage } from './AuditPage';
import { ConsolePage, type ConsoleOptions } from './ConsolePage';
import { DeployPage } from './DeployPage';
import { ManifestsPage } from './ManifestsPage';
import { FleetPage } from './FleetPage';
import { HostsPage } from './HostsPage';
import { JobsPage } from './JobsPage';
import { NotFound } from './NotFound';
import { TokensPage } from './TokensPage';
import { UsersPage } from './UsersPage';
import { VmPage } from './VmPage';

interface Props {
  api: Api;
  session: SessionStore;
  user: User;
  router: Router;
  /** This control plane's address, for the agent install commands. */
  origin: string;
  fleetOptions?: FleetOptions;
  jobsOptions?: JobsOptions;
  consoleOptions?: ConsoleOptions;
}

const TITLES: Record<Page, string> = {
  hosts: 'Hosts',
  vms: 'VMs',
  deploy: 'Deploy a VM',
  manifests: 'Manifests',
  jobs: 'Jobs',
  tokens: 'Enrolment tokens',
  account: 'Account',
  audit: 'Audit',
  users: 'Users',
  api: 'API reference',
};

export function Shell({ api, session, user, router, origin, fleetOptions, jobsOptions, consoleOptions = {} }: Props) {
  const path = useStore(router, router.path);
  const page = pageOf(path);
  const consoleRoute = consoleRouteOf(path);
  const vmRoute = vmRouteOf(path);
  const [loggingOut, setLoggingOut] = useState(false);
  const [clients] = useState(() => consoleOptions.clients ?? createConsoleClients());
  const [consoles] = useState(() => consoleOps(api, clients, router.navigate));

  const onConsole = consoleRoute !== null;

  useEffect(() => {
    const title = onConsole ? 'Console' : vmRoute ? vmRoute.vm : page && TITLES[page];
    document.title = title ? `${title} · Fleetvisor` : 'Fleetvisor';
  }, [page, onConsole, vmRoute?.vm]);

  /** Back to the login page; the next login starts at Hosts. */
  function leave(): void {
    session.logOut();
    router.navigate('/');
  }

  async function logOut(): Promise<void> {
    setLoggingOut(true);
    try {
      await api.logout();
    } catch {
      // The token is dropped either way; the cookie expires on its own.
    }
    leave();
  }

  function content() {
    if (consoleRoute) {
      return (
        <ConsolePage
          api={api}
          route={consoleRoute}
          clients={clients}
          terminal={consoleOptions.terminal ?? openXterm}
          timings={consoleOptions.timings}
          onNavigate={router.navigate}
        />
      );
    }
    if (vmRoute) {
      return (
        <VmPage key={path} api={api} route={vmRoute} onNavigate={router.navigate} consoles={consoles} fleetOptions={fleetOptions} />
      );
    }
    switch (page) {
      case 'hosts':
        return <HostsPage api={api} options={fleetOptions} consoles={consoles} />;
      case 'vms':
        return <FleetPage api={api} options={{ visibility: fleetOptions?.visibility }} />;
      case 'deploy':
        return <DeployPage api={api} consoles={consoles} />;
      case 'manifests':
        return <ManifestsPage api={api} onNavigate={router.navigate} />;
      case 'jobs':
        return <JobsPage api={api} options={jobsOptions} />;
      case 'tokens':
        return <TokensPage api={api} origin={origin} />;
      case 'account':
        return <AccountPage api={api} session={session} user={user} onSessionEnded={leave} />;
      case 'audit':
        return <AuditPage api={api} admin={isAdmin(user)} />;
      case 'users':
        if (isAdmin(user)) return <UsersPage api={api} />;
        return <NotFound title="Users" message="Only admins manage users." onNavigate={router.navigate} />;
      case 'api':
        return <ApiReferencePage api={api} origin={origin} />;
      default:
        return <NotFound onNavigate={router.navigate} />;
    }
  }

  return (
    <>
      <AppHeader
        user={user}
        page={page}
        onNavigate={router.navigate}
        onLogout={() => void logOut()}
        loggingOut={loggingOut}
      />
      <NavigateContext.Provider value={router.navigate}>{content()}</NavigateContext.Provider>
    </>
  );
}
