// A tiny in-memory operator API behind a fake fetch, for app-level tests.
// It speaks the shapes of docs/protocol.md. Sessions work as in a browser:
// login sets the refresh cookie (kept in `state.cookie`, like the browser's
// cookie jar, and sent only with `credentials: 'same-origin'`), refresh
// rotates it, access tokens are checked on every other call. Each GET of a
// job started through a VM action moves it one step (queued → running →
// succeeded) and a finished job updates its VM; jobs a test puts in
// `state.jobs` stay as it set them. Identity routes live in fakeIdentity.ts,
// API keys, enrolment tokens and audit in fakeRecords.ts, hosts, VMs and jobs
// in fakeFleet.ts, serial consoles (and their chunk downloads) in
// fakeConsoles.ts.

import type { FetchFn } from '../api';
import type {
  Agent,
  ApiKey,
  SshKey,
  AuditRecord,
  ConsoleStatus,
  EnrollmentToken,
  Job,
  ResultDocument,
  SessionInfo,
  Snapshot,
  VmActionName,
  VmDetail,
} from '../types';
import { anAgent, aVm } from './fixtures';
import { fail, parseBody, type FakeRequest, type FakeUser } from './fakeHttp';
import { fakeConsoles, type FakeConsole } from './fakeConsoles';
import { fakeFeed } from './fakeFeed';
import { fleetRoutes } from './fakeFleet';
import { metricsRoutes } from './fakeMetrics';
import { identityRoutes } from './fakeIdentity';
import { recordRoutes } from './fakeRecords';

export const PASSWORD = 'secret';

export function aUser(over: Partial<FakeUser> = {}): FakeUser {
  return {
    user_id: 'u1',
    email: 'ops@example.test',
    name: 'Olive Operator',
    role: 'operator',
    disabled: false,
    created_ms: 1_690_000_000_000,
    require_host_approval: false,
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
    sshKeys: [] as Array<SshKey & { owner: string }>,
    audit: [] as AuditRecord[],
    /** The `anonymous` trail (failed logins to no account), for admins' ?owner=anonymous. */
    anonymousAudit: [] as AuditRecord[],
    agents: [anAgent()] as Agent[],
    /** The ranges of VM statistics read, and the live asks (fakeMetrics.ts). */
    metricsAsked: [] as string[],
    liveAsks: 0,
    /** GET /api/changes and the feed it points at: `feed.bump()` is a change made behind the page's back. */
    feed: fakeFeed(),
    /** What each feed read carried: the page must add no header (no CORS preflight) and keep no cache. */
    feedRequests: [] as Array<{ headers: number; credentials: RequestCredentials | null; cache: RequestCache | null }>,
    /** Whether POST /api/agents/ping exists yet (a server without it answers 404). */
    pingRoute: false,
    vms: [aVm({ state: 'shutoff' })],
    /** Newest first, as GET /api/jobs lists them. */
    jobs: [] as Job[],
    /** Where GET /api/jobs/{id} says a job's result can be downloaded. */
    resultBase: 'https://results.example.test/r',
    actions: new Map<string, VmActionName>(),
    /** The body each VM action was queued with, by job id. */
    actionBodies: new Map<string, Record<string, unknown>>(),
    /** Result documents of finished VM action jobs, by job id. */
    results: new Map<string, ResultDocument>(),
    /** Each VM's snapshots, by VM UUID. */
    snapshots: new Map<string, Snapshot[]>(),
    /** What vm.detail reads, by VM UUID. */
    details: new Map<string, VmDetail>(),
    /** Jobs of these actions end `failed` with this message. */
    jobFailures: new Map<VmActionName, string>(),
    /** Console sessions, oldest first (fakeConsoles.ts). */
    consoles: [] as FakeConsole[],
    /** What a new console session starts as. */
    consoleStartStatus: 'open' as ConsoleStatus,
    /** The most chunks one output answer holds. */
    consoleBatch: 100,
    /** How long an output long poll holds at most (ms), whatever its `wait`. */
    consoleHoldMs: 100,
    /** This many chunk downloads answer 403, as an expired presigned URL does. */
    chunkFailures: 0,
    /** What each chunk download carried. */
    chunkRequests: [] as Array<{ authorization: string | null; credentials: RequestCredentials | null }>,
    requests: [] as string[],
    /** The JSON body of every request that had one, with its `METHOD url`. */
    bodies: [] as Array<{ request: string; body: Record<string, unknown> }>,
    /** One-shot error answers, by `METHOD path` (see `failNext`). */
    failures: new Map<string, { status: number; code: string; message: string }>(),
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

  const consoles = fakeConsoles(state);
  const routes = [
    ...identityRoutes(state, audit),
    ...recordRoutes(state, audit),
    ...fleetRoutes(state),
    ...metricsRoutes(state),
    ...consoles.routes,
  ];

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
    const body = parseBody(init);
    if (init.body !== undefined) state.bodies.push({ request: `${method} ${url}`, body });
    const failure = state.failures.get(`${method} ${pathname}`);
    if (failure) {
      state.failures.delete(`${method} ${pathname}`);
      return fail(failure.status, failure.code, failure.message);
    }
    for (const route of routes) {
      const params = route.pattern.exec(pathname);
      if (!params || route.method !== method) continue;
      const caller = callerOf(headers);
      if (!route.open && caller === null) return fail(401, 'unauthorized', 'The token is not valid.');
      const request = { method, path: pathname, query: searchParams, body, headers, init, caller };
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
    /** The next `METHOD path` request (path without the query) answers this error instead. */
    failNext: (request: string, status: number, code: string, message: string) => {
      state.failures.set(request, { status, code, message });
    },
    /** The bodies sent so far with `method url`, oldest first. */
    bodiesOf: (request: string) => state.bodies.filter((b) => b.request === request).map((b) => b.body),
    /** Console sessions from the agent's side: add, print output, attach, end. */
    consoles: { add: consoles.add, print: consoles.print, attach: consoles.attach, end: consoles.end },
    /** Requests made so far to `method path` (path without the query). */
    count: (what: string) => state.requests.filter((r) => r.split('?')[0] === what).length,
  };
}

export type FakeServer = ReturnType<typeof fakeServer>;
