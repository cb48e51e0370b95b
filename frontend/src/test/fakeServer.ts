// A tiny in-memory operator API behind a fake fetch, for app-level tests.
// It speaks the shapes of docs/protocol.md. Sessions work as in a browser:
// login sets the refresh cookie (kept in `state.cookie`, like the browser's
// cookie jar, and sent only with `credentials: 'same-origin'`), refresh
// rotates it, access tokens are checked on every other call. Each GET of a
// job moves it one step (queued → running → succeeded) and a finished job
// updates its VM. Identity routes live in fakeIdentity.ts, API keys,
// enrolment tokens and audit in fakeRecords.ts.

import type { FetchFn } from '../api';
import type { ApiKey, AuditRecord, EnrollmentToken, Job, SessionInfo, VM, VmAction } from '../types';
import { aJob, anAgent, aVm } from './fixtures';
import { fail, ok, parseBody, type FakeRequest, type FakeUser, type Route } from './fakeHttp';
import { identityRoutes } from './fakeIdentity';
import { recordRoutes } from './fakeRecords';

const NEXT_STATE: Partial<Record<VmAction, VM['state']>> = {
  start: 'running',
  shutdown: 'shutoff',
  'force-stop': 'shutoff',
  suspend: 'paused',
  resume: 'running',
  reboot: 'running',
};

export const PASSWORD = 'secret';

export function aUser(over: Partial<FakeUser> = {}): FakeUser {
  return {
    user_id: 'u1',
    email: 'ops@example.test',
    name: 'Olive Operator',
    role: 'operator',
    disabled: false,
    created_ms: 1_690_000_000_000,
    password: PASSWORD,
    ...over,
  };
}

export interface FakeSession extends Omit<SessionInfo, 'current'> {
  user_id: string;
  refresh: string;
}

function initialState() {
  return {
    users: [aUser(), aUser({ user_id: 'u0', email: 'admin@example.test', name: 'Ada Admin', role: 'admin' })],
    sessions: [] as FakeSession[],
    accessTokens: new Map<string, { userId: string; sessionId: string }>(),
    /** The browser's refresh cookie (HttpOnly: the page never sees it). */
    cookie: null as string | null,
    expiresIn: 900,
    /** When set, login answers 429 with this Retry-After. */
    throttleSeconds: null as number | null,
    refreshCount: 0,
    /** Holds each refresh this long, so concurrent callers overlap. */
    refreshDelayMs: 0,
    /** The most any list page holds (the client asks for more). */
    pageSize: 50,
    apiKeys: [] as Array<ApiKey & { owner: string }>,
    enrollmentTokens: [] as Array<EnrollmentToken & { owner: string }>,
    audit: [] as AuditRecord[],
    vms: [aVm({ state: 'shutoff' })],
    jobs: [] as Job[],
    actions: new Map<string, VmAction>(),
    requests: [] as string[],
  };
}

export type FakeServerState = ReturnType<typeof initialState>;

export function fakeServer() {
  const state = initialState();

  function audit(action: string, target: string): void {
    const n = state.audit.length + 1;
    state.audit.push({
      record_id: `rec-live-${n}`,
      ts_ms: 1_800_000_000_000 + n,
      actor: 'someone',
      action,
      target,
      outcome: 'success',
      source_ip: '192.0.2.10',
      user_agent: 'Vitest',
      detail: null,
    });
  }

  function advance(job: Job): Job {
    if (job.status === 'queued') return { ...job, status: 'running', attempt: 1 };
    const action = state.actions.get(job.job_id);
    state.vms = state.vms.map((vm) =>
      vm.uuid === job.vm_uuid && action ? { ...vm, state: NEXT_STATE[action] ?? vm.state } : vm,
    );
    return { ...job, status: 'succeeded', exit_code: 0, summary: 'ok' };
  }

  function getJob({ params }: FakeRequest): Response {
    const index = state.jobs.findIndex((j) => j.job_id === params[0]);
    if (index < 0) return fail(404, 'job_not_found', 'No such job.');
    if (state.jobs[index].status !== 'succeeded') state.jobs[index] = advance(state.jobs[index]);
    return ok(state.jobs[index]);
  }

  function act({ params, body }: FakeRequest): Response {
    const action = body.action as VmAction;
    const op = `vm.${action.replace('-', '_')}`;
    const job = aJob({ job_id: `job-${state.jobs.length + 1}`, op, vm_uuid: params[0] });
    state.jobs.unshift(job);
    state.actions.set(job.job_id, action);
    return ok(job, 202);
  }

  const fleetRoutes: Route[] = [
    { method: 'GET', pattern: /^\/api\/agents$/, handle: () => ok({ agents: [anAgent()] }) },
    { method: 'GET', pattern: /^\/api\/agents\/agt-1\/vms$/, handle: () => ok({ vms: state.vms }) },
    { method: 'GET', pattern: /^\/api\/jobs$/, handle: () => ok({ jobs: state.jobs }) },
    { method: 'GET', pattern: /^\/api\/jobs\/([^/]+)$/, handle: getJob },
    { method: 'POST', pattern: /^\/api\/agents\/agt-1\/vms\/([^/]+)\/actions$/, handle: act },
  ];
  const routes = [...identityRoutes(state, audit), ...recordRoutes(state, audit), ...fleetRoutes];

  /** Who the bearer token belongs to, if it is valid. */
  function callerOf(headers: Headers): FakeRequest['caller'] {
    const match = /^Bearer (.+)$/.exec(headers.get('Authorization') ?? '');
    const owner = match ? state.accessTokens.get(match[1]) : undefined;
    const user = state.users.find((u) => u.user_id === owner?.userId);
    if (!owner || !user || user.disabled) return null;
    return { user, sessionId: owner.sessionId };
  }

  const fetch: FetchFn = async (url, init) => {
    const method = init.method ?? 'GET';
    state.requests.push(`${method} ${url}`);
    const { pathname, searchParams } = new URL(url, 'http://fleetvisor.test');
    const headers = new Headers(init.headers);
    for (const route of routes) {
      const params = route.pattern.exec(pathname);
      if (!params || route.method !== method) continue;
      const caller = callerOf(headers);
      if (!route.open && caller === null) return fail(401, 'unauthorized', 'The token is not valid.');
      const request = { method, path: pathname, query: searchParams, body: parseBody(init), headers, init, caller };
      return route.handle({ ...request, params: params.slice(1).map(decodeURIComponent) });
    }
    return fail(404, 'route_not_found', 'No such route.');
  };

  return {
    state,
    fetch,
    /** Every access token stops working; the refresh cookie still does. */
    expireAccessTokens: () => state.accessTokens.clear(),
    /** Every session ends: access tokens and refresh cookies alike. */
    endSessions: () => {
      state.accessTokens.clear();
      state.sessions = [];
    },
    /** A login from another browser: a session of its own, not in this cookie jar. */
    logInElsewhere: async (email = 'ops@example.test') => {
      const jar = state.cookie;
      const body = JSON.stringify({ email, password: PASSWORD });
      await fetch('/api/auth/login', { method: 'POST', body, credentials: 'same-origin' });
      state.cookie = jar;
    },
    /** Requests made so far to `method path` (path without the query). */
    count: (what: string) => state.requests.filter((r) => r.split('?')[0] === what).length,
  };
}

export type FakeServer = ReturnType<typeof fakeServer>;
