// The whole app over the fake server, as a browser would run it.

import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { createApi } from '../api';
import { App } from '../components/App';
import type { ConsoleOptions } from '../components/ConsolePage';
import type { FleetOptions } from '../state/fleet';
import type { JobsOptions } from '../state/jobs';
import { createRouter } from '../state/router';
import { createSessionStore } from '../state/session';
import { fakeServer, PASSWORD, type FakeServer } from './fakeServer';
import { headlessTerminals } from './terminal';

export const ORIGIN = 'https://fleet.example.test';

interface Options {
  /** Reuse a server (and its cookie jar), e.g. to reload the page. */
  server?: FakeServer;
  /** The address the page is opened at. */
  path?: string;
  fleetOptions?: FleetOptions;
  jobsOptions?: JobsOptions;
  /** Console views draw into headless terminals unless a test passes its own. */
  consoleOptions?: ConsoleOptions;
}

/** Opens the app: a fresh page (new session store and API client) over `server`. */
export function openApp({
  server = fakeServer(),
  path = '/',
  fleetOptions = {},
  jobsOptions,
  consoleOptions = { terminal: headlessTerminals().factory },
}: Options = {}) {
  window.history.replaceState(null, '', path);
  const session = createSessionStore();
  const api = createApi({ fetch: server.fetch, session });
  const view = render(
    <App
      api={api}
      session={session}
      router={createRouter()}
      origin={ORIGIN}
      fleetOptions={{ jobPollMs: 20, ...fleetOptions }}
      jobsOptions={jobsOptions}
      consoleOptions={consoleOptions}
    />,
  );
  return { server, session, api, view };
}

/** Fills in and submits the login form once it shows. */
export async function submitLogin(email = 'ops@example.test', password = PASSWORD): Promise<void> {
  const emailField = await waitFor(() => {
    const field = document.querySelector<HTMLInputElement>('input[name=email]');
    if (!field) throw new Error('no login form yet');
    return field;
  });
  fireEvent.input(emailField, { target: { value: email } });
  fireEvent.input(document.querySelector('input[name=password]')!, { target: { value: password } });
  fireEvent.submit(emailField.form!);
}

export async function logIn(email = 'ops@example.test', password = PASSWORD): Promise<void> {
  await submitLogin(email, password);
  await screen.findByTestId('user-email');
}

/** Opens the app and logs in (as the operator unless told otherwise). */
export async function loggedInApp(options: Options & { email?: string } = {}) {
  const opened = openApp(options);
  await logIn(options.email);
  return opened;
}

export const asAdmin = { email: 'admin@example.test' };

/** Follows a nav link, e.g. goTo('account') clicks [data-testid=nav-account]. */
export function goTo(page: 'hosts' | 'vms' | 'jobs' | 'tokens' | 'account' | 'audit' | 'users'): void {
  fireEvent.click(screen.getByTestId(`nav-${page}`));
}

/** Types into the named fields of a form. */
export function fill(form: HTMLElement, values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    const field = form.querySelector<HTMLInputElement>(`[name="${name}"]`);
    if (!field) throw new Error(`no field ${name}`);
    if (field.tagName === 'SELECT') fireEvent.change(field, { target: { value } });
    else fireEvent.input(field, { target: { value } });
  }
}
