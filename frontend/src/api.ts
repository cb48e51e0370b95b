// The one way the app talks to the operator API (same origin, /api/...).
//
// Every call goes through `request`: it adds the bearer token and turns error
// bodies ({"error": {"code", "message"}}) into an ApiError. When an
// authenticated call answers 401 it renews the session once through
// POST /api/auth/refresh (the HttpOnly refresh cookie) and replays the call
// with the new token; if that fails too, the session ends with a notice.
// Refreshes are single-flight: calls that fail together share one refresh.

import type { OpenApiDocument } from './apiReference';
import { liveOf, type LiveMetrics, type LiveWatch, type MetricsRange, type VmMetrics } from './vmMetrics';
import { sessionFrom, sessionStore, type SessionStore } from './state/session';
import type {
  Account,
  Agent,
  ApiKey,
  AuditRecord,
  ConsoleJoin,
  ConsoleOutput,
  ConsoleSession,
  DeployRequest,
  DeployedJob,
  EnrollmentToken,
  InstallerList,
  FleetFeed,
  FleetVm,
  Job,
  JobStatus,
  LoginResponse,
  Manifest,
  NewApiKey,
  NewSshKey,
  NewEnrollmentToken,
  OwnManifest,
  Page,
  ResultDocument,
  Role,
  Scope,
  SessionInfo,
  SshKey,
  VM,
  VmAction,
  VmRequest,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before trying again (from `Retry-After`), if the server said. */
  readonly retryAfter: number | null;
  /** Why each named field was refused (`error.fields`, e.g. {"inputs.hostname": "is required."}); {} if none. */
  readonly fields: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    retryAfter: number | null = null,
    fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.fields = fields;
  }
}

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

/** Runs `task` while holding a lock shared by every tab of this origin. */
export type LockFn = <T>(task: () => Promise<T>) => Promise<T>;

export interface ApiDeps {
  fetch: FetchFn;
  session: SessionStore;
  /** The clock used to read a `Retry-After` date (tests pass their own). */
  now?: () => number;
  /** Serialises refreshes across tabs (default: the Web Locks API, if any). */
  lock?: LockFn;
}

/**
 * Tabs share the refresh cookie, and a refresh token used twice ends the
 * session: two tabs refreshing at once (say, both restored on browser start)
 * would log each other out. Under this lock the second tab waits and then
 * sends the cookie the first one's refresh left in the jar.
 */
export const tabLock: LockFn = (task) => {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (!locks) return task();
  return locks.request('fleetvisor-refresh', task);
};

/** Whether a refresh answer means "no session" rather than "try again later". */
function refreshRefused(status: number): boolean {
  return status >= 400 && status < 500 && status !== 429;
}

export const SESSION_EXPIRED = 'Your session has ended. Please log in again.';

/** Sent on refresh so a cross-site form cannot spend the refresh cookie. */
export const CSRF_HEADER = { 'X-Requested-With': 'fleetvisor' } as const;

interface RequestOptions {
  body?: unknown;
  /** Send the bearer token, and renew the session on a 401. */
  auth?: boolean;
  /** Abandons the call (a long poll whose page has gone); it then fails as a network error. */
  signal?: AbortSignal;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringsIn(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** Builds the ApiError for a non-2xx answer from its status and parsed body. */
export function toApiError(status: number, body: unknown, retryAfter: number | null = null): ApiError {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ApiError(status, error.code, error.message, retryAfter, stringsIn(error.fields));
  }
  return new ApiError(status, `http_${status}`, `The server answered ${status}.`, retryAfter);
}

/** `Retry-After` as whole seconds: either a number of seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === '') return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

async function readJson(response: Response): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return null;
  }
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function buildInit(method: string, token: string | null, { body, signal }: RequestOptions): RequestInit {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (signal) init.signal = signal;
  if (body === undefined) return init;
  headers['Content-Type'] = 'application/json';
  return { ...init, body: JSON.stringify(body) };
}

/** `?a=1&b=x` from the values that are set (undefined, null and '' are left out). */
export function queryString(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export interface AuditFilter {
  /** Records whose action contains this text, in any case ("auth", "login", "vm."). */
  action?: string;
  /** Admins: another trail than their own; `anonymous` holds failed logins to no account. */
  owner?: string;
  sinceMs?: number | null;
  untilMs?: number | null;
}

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  password: string;
}

export interface UserChange {
  name?: string;
  role?: Role;
  disabled?: boolean;
}

export interface ApiKeyRequest {
  name: string;
  scopes: Scope[];
  expires_in_days?: number;
}

export interface EnrollmentTokenRequest {
  uses?: number;
  ttl_seconds?: number;
  note?: string;
}

/** PATCH /api/me: only what is sent changes. */
export interface ProfileChange {
  name?: string;
  require_host_approval?: boolean;
}

/** Which jobs GET /api/jobs lists; an empty field filters nothing. */
export interface JobFilter {
  agentId?: string;
  status?: JobStatus | '';
}

/** Whose console sessions GET /api/consoles lists: a host's, or one VM's. */
export interface ConsoleFilter {
  agentId: string;
  vmUuid?: string;
}

/** What one long poll of a console's output asks for. */
export interface OutputRequest {
  after: number;
  /** Seconds the server may hold the call open (0..20). */
  wait: number;
  /** This terminal's handle; a replay has none. */
  clientId: string | null;
  signal?: AbortSignal;
}

export const PAGE_SIZE = 50;
/** The fleet list's page: the most GET /api/vms serves at once. */
export const FLEET_PAGE_SIZE = 1000;

interface Answer {
  response: Response;
  body: unknown;
}

/**
 * Whether a 401 says the access token is no good. A 401 about something
 * else the caller sent (a wrong current password: `invalid_credentials`) is
 * not the session's fault and is not answered with a refresh.
 */
function isTokenRefused({ response, body }: Answer): boolean {
  return response.status === 401 && toApiError(401, body).code !== 'invalid_credentials';
}

export function createApi(deps: ApiDeps) {
  const now = deps.now ?? Date.now;
  const lock = deps.lock ?? tabLock;
  let refreshing: Promise<string | null> | null = null;

  async function receive(method: string, path: string, init: RequestInit): Promise<Answer> {
    let response: Response;
    try {
      response = await deps.fetch(path, init);
    } catch {
      throw new ApiError(0, 'network_error', `Could not reach the server (${method} ${path}).`);
    }
    return { response, body: await readJson(response) };
  }

  function result<T>({ response, body }: Answer): T {
    if (response.ok) return body as T;
    throw toApiError(response.status, body, parseRetryAfter(response.headers.get('Retry-After'), now()));
  }

  /**
   * Asks for a new access token with the refresh cookie. Resolves to the new
   * token, or null when the server refused (any 4xx but 429: the session, if
   * any, then ends). Throws on a network error, 429 or a server fault, which
   * say nothing about the session. A session ended meanwhile is not brought back.
   */
  async function refreshOnce(): Promise<string | null> {
    const before = deps.session.token();
    const init: RequestInit = {
      method: 'POST',
      headers: { Accept: 'application/json', ...CSRF_HEADER },
      credentials: 'same-origin',
    };
    const answer = await lock(() => receive('POST', '/api/auth/refresh', init));
    if (refreshRefused(answer.response.status)) {
      if (before !== null) deps.session.expire(before, SESSION_EXPIRED);
      return null;
    }
    const login = result<LoginResponse>(answer);
    if (before !== null && deps.session.token() === null) return null;
    deps.session.logIn(sessionFrom(login));
    return login.access_token;
  }

  /** One refresh at a time: callers that ask while one runs share its answer. */
  function refresh(): Promise<string | null> {
    refreshing ??= refreshOnce().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  /** A token to replay a call with, after `stale` was refused; null if none. */
  async function renew(stale: string): Promise<string | null> {
    const current = deps.session.token();
    if (current === null) return null;
    if (current !== stale) return current; // another call has renewed it already
    return refresh();
  }

  async function authenticated<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const token = deps.session.token();
    if (token === null) throw new ApiError(401, 'unauthorized', SESSION_EXPIRED);
    const first = await receive(method, path, buildInit(method, token, options));
    if (!isTokenRefused(first)) return result<T>(first);
    const fresh = await renew(token);
    if (fresh === null) {
      deps.session.expire(token, SESSION_EXPIRED);
      return result<T>(first);
    }
    const second = await receive(method, path, buildInit(method, fresh, options));
    if (isTokenRefused(second)) deps.session.expire(fresh, SESSION_EXPIRED);
    return result<T>(second);
  }

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    if (options.auth === false) return result<T>(await receive(method, path, buildInit(method, null, options)));
    return authenticated<T>(method, path, options);
  }

  const enc = encodeURIComponent;

  return {
    login: (email: string, password: string) =>
      request<LoginResponse>('POST', '/api/auth/login', { body: { email, password }, auth: false }),
    /** Renews the session now (the silent refresh); true when it was renewed. */
    refreshSession: () => refresh().then((token) => token !== null),
    /** On page load: takes up the session the refresh cookie still holds, if any. */
    restoreSession: async (): Promise<boolean> => {
      if (deps.session.token() !== null) return true;
      return refresh().then(
        (token) => token !== null,
        () => false,
      );
    },
    logout: () => request<unknown>('POST', '/api/auth/logout'),
    logoutAll: () => request<unknown>('POST', '/api/auth/logout-all'),

    /** The operator API's OpenAPI document (public), for the API reference page. */
    openApi: () => request<OpenApiDocument>('GET', '/api/openapi.json', { auth: false }),
    me: () => request<Account>('GET', '/api/me'),
    updateMe: (change: ProfileChange) => request<Account>('PATCH', '/api/me', { body: change }),
    changePassword: (currentPassword: string, newPassword: string) =>
      request<LoginResponse>('POST', '/api/me/password', {
        body: { current_password: currentPassword, new_password: newPassword },
      }),
    listSessions: () => request<{ sessions: SessionInfo[] }>('GET', '/api/me/sessions').then((r) => r.sessions),
    revokeSession: (sessionId: string) => request<unknown>('DELETE', `/api/me/sessions/${enc(sessionId)}`),

    listUsers: (cursor: string | null = null): Promise<Page<Account>> =>
      request<{ users: Account[]; next: string | null }>(
        'GET',
        `/api/users${queryString({ limit: PAGE_SIZE, cursor })}`,
      ).then((r) => ({ items: r.users, next: r.next })),
    createUser: (user: NewUser) => request<Account>('POST', '/api/users', { body: user }),
    updateUser: (userId: string, change: UserChange) =>
      request<Account>('PATCH', `/api/users/${enc(userId)}`, { body: change }),
    setUserPassword: (userId: string, newPassword: string) =>
      request<Account>('POST', `/api/users/${enc(userId)}/password`, { body: { new_password: newPassword } }),

    listApiKeys: () => request<{ api_keys: ApiKey[] }>('GET', '/api/api-keys').then((r) => r.api_keys),
    createApiKey: (key: ApiKeyRequest) => request<NewApiKey>('POST', '/api/api-keys', { body: key }),
    revokeApiKey: (keyId: string) => request<ApiKey>('DELETE', `/api/api-keys/${enc(keyId)}`),

    listEnrollmentTokens: () =>
      request<{ enrollment_tokens: EnrollmentToken[] }>('GET', '/api/enrollment-tokens').then(
        (r) => r.enrollment_tokens,
      ),
    createEnrollmentToken: (token: EnrollmentTokenRequest) =>
      request<NewEnrollmentToken>('POST', '/api/enrollment-tokens', { body: token }),
    revokeEnrollmentToken: (tokenId: string) =>
      request<EnrollmentToken>('DELETE', `/api/enrollment-tokens/${enc(tokenId)}`),

    listAudit: (filter: AuditFilter, cursor: string | null = null): Promise<Page<AuditRecord>> => {
      const query = queryString({
        limit: PAGE_SIZE,
        cursor,
        action: filter.action?.trim(),
        owner: filter.owner,
        since_ms: filter.sinceMs,
        until_ms: filter.untilMs,
      });
      return request<{ records: AuditRecord[]; next: string | null }>('GET', `/api/audit${query}`).then((r) => ({
        items: r.records,
        next: r.next,
      }));
    },

    listAgents: () => request<{ agents: Agent[] }>('GET', '/api/agents').then((r) => r.agents),
    /** The fleet's change version now, and the feed to read it from (docs/protocol.md, GET /api/changes). */
    fleetFeed: (signal?: AbortSignal) => request<FleetFeed>('GET', '/api/changes', { signal }).then(checkedFeed),
    /** The version the feed holds: a plain GET of its presigned URL, straight from the bucket. */
    readFeed: async (url: string, signal?: AbortSignal): Promise<number> => {
      const bytes = await fromBucket(deps.fetch, url, FEED_WORDS, signal);
      return versionIn(new TextDecoder().decode(bytes));
    },
    /** Asks the hosts not heard from lately for a sign of life now (they heartbeat through their doorbell). */
    /** Ask quiet hosts for a heartbeat now: those named (the ones on screen), else all of them. */
    pingAgents: (agentIds?: string[]) =>
      request<{ pinged: number }>('POST', '/api/agents/ping', agentIds ? { body: { agent_ids: agentIds } } : {}),
    listVms: (agentId: string) =>
      request<{ vms: VM[] }>('GET', `/api/agents/${enc(agentId)}/vms`).then((r) => r.vms),
    /** One page of every VM on all the caller's hosts, by name (GET /api/vms; at most 1,000 a page). */
    listFleet: (cursor: string | null = null, limit = FLEET_PAGE_SIZE): Promise<Page<FleetVm>> =>
      request<{ vms: FleetVm[]; next_cursor: string | null }>('GET', `/api/vms${queryString({ limit, cursor })}`).then(
        (r) => ({ items: r.vms, next: r.next_cursor }),
      ),
    /** One VM, as its host last reported it (by UUID). */
    getVm: (agentId: string, vmUuid: string) => request<VM>('GET', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}`),
    /** Replaces a VM's labels (by UUID); answers the VM. */
    updateVmLabels: (agentId: string, vmUuid: string, labels: Record<string, string>) =>
      request<VM>('PATCH', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}`, { body: { labels } }),
    /** A VM action: its name alone, or the whole body with its extra fields. */
    vmAction: (agentId: string, vmUuid: string, action: VmAction | VmRequest) =>
      request<Job>('POST', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}/actions`, {
        body: typeof action === 'string' ? { action } : action,
      }),
    /** A host.capabilities job: the host's full capabilities (pools, networks, versions) in its result. */
    refreshCapabilities: (agentId: string) => request<Job>('POST', `/api/agents/${enc(agentId)}/capabilities`),
    updateAgentLabels: (agentId: string, labels: Record<string, string>) =>
      request<Agent>('PATCH', `/api/agents/${enc(agentId)}`, { body: { labels } }),
    deregisterAgent: (agentId: string) => request<unknown>('DELETE', `/api/agents/${enc(agentId)}`),
    approveAgent: (agentId: string) => request<Agent>('POST', `/api/agents/${enc(agentId)}/approve`),
    rejectAgent: (agentId: string) => request<unknown>('POST', `/api/agents/${enc(agentId)}/reject`),

    /** A VM's statistics series over the range (the host's batches, assembled and averaged by the server). */
    vmMetrics: (agentId: string, vmUuid: string, range: MetricsRange, signal?: AbortSignal) =>
      request<VmMetrics>('GET', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}/metrics${queryString({ range })}`, {
        signal,
      }),
    /** Asks the host to sample the VM every few seconds for a while; where to read the samples. */
    watchVmMetrics: (agentId: string, vmUuid: string) =>
      request<LiveWatch>('POST', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}/metrics/live`),
    /** The host's live object, straight from the bucket; null while the host has not put it yet (404). */
    readLiveMetrics: async (url: string, signal?: AbortSignal): Promise<LiveMetrics | null> => {
      let bytes: Uint8Array;
      try {
        bytes = await fromBucket(deps.fetch, url, LIVE_WORDS, signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
      try {
        return liveOf(JSON.parse(new TextDecoder().decode(bytes)) as unknown);
      } catch {
        return null;
      }
    },

    listJobs: (limit = 20, filter: JobFilter = {}) =>
      request<{ jobs: Job[] }>(
        'GET',
        `/api/jobs${queryString({ limit, agent_id: filter.agentId, status: filter.status })}`,
      ).then((r) => r.jobs),
    getJob: (jobId: string) => request<Job>('GET', `/api/jobs/${enc(jobId)}`),
    getJobResult: (jobId: string) => request<ResultDocument>('GET', `/api/jobs/${enc(jobId)}/result`),
    cancelJob: (jobId: string) => request<Job>('POST', `/api/jobs/${enc(jobId)}/cancel`),

    /** Opens the VM's console, or joins the session already open (201 or 200, same shape).
     *  By UUID: a VM's name may break the API's rule for names in paths. */
    openConsole: (agentId: string, vmUuid: string) =>
      request<ConsoleJoin>('POST', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}/console`, { body: {} }),
    listConsoles: (filter: ConsoleFilter, cursor: string | null = null): Promise<Page<ConsoleSession>> =>
      request<{ consoles: ConsoleSession[]; next_cursor: string | null }>(
        'GET',
        `/api/consoles${queryString({ agent_id: filter.agentId, vm_uuid: filter.vmUuid, limit: PAGE_SIZE, cursor })}`,
      ).then((r) => ({ items: r.consoles, next: r.next_cursor })),
    getConsole: (consoleId: string) => request<ConsoleSession>('GET', `/api/consoles/${enc(consoleId)}`),
    consoleOutput: (consoleId: string, { after, wait, clientId, signal }: OutputRequest) =>
      request<ConsoleOutput>(
        'GET',
        `/api/consoles/${enc(consoleId)}/output${queryString({ after, wait, client_id: clientId })}`,
        { signal },
      ),
    consoleInput: (consoleId: string, clientId: string, data: string) =>
      request<{ seq: number }>('POST', `/api/consoles/${enc(consoleId)}/input`, {
        body: { client_id: clientId, data },
      }),
    takeConsoleWriter: (consoleId: string, clientId: string) =>
      request<{ console: ConsoleSession; writer: boolean }>('POST', `/api/consoles/${enc(consoleId)}/writer`, {
        body: { client_id: clientId },
      }),
    closeConsole: (consoleId: string) => request<ConsoleSession>('POST', `/api/consoles/${enc(consoleId)}/close`),

    listProfiles: () => request<{ profiles: Manifest[] }>('GET', '/api/profiles').then((r) => r.profiles),
    listInstallers: () => request<InstallerList>('GET', '/api/installers'),
    /** A guided deployment (a vm.deploy job, 202); a 400 names each refused field in `ApiError.fields`. */
    deploy: (agentId: string, deployment: DeployRequest) =>
      request<DeployedJob>('POST', `/api/agents/${enc(agentId)}/deployments`, { body: deployment }),
    /** The caller's own manifests (not the built-ins: listProfiles and listInstallers serve those too). */
    listManifests: () => request<{ manifests: OwnManifest[] }>('GET', '/api/manifests').then((r) => r.manifests),
    /** Adds a manifest from its YAML text; a 400 names each failing path in `ApiError.fields`. */
    uploadManifest: (text: string) => request<OwnManifest>('POST', '/api/manifests', { body: { manifest: text } }),
    deleteManifest: (manifestId: string) => request<OwnManifest>('DELETE', `/api/manifests/${enc(manifestId)}`),
    listSshKeys: () => request<{ ssh_keys: SshKey[] }>('GET', '/api/ssh-keys').then((r) => r.ssh_keys),
    addSshKey: (name: string, publicKey: string) =>
      request<SshKey>('POST', '/api/ssh-keys', { body: { name, public_key: publicKey } }),
    /** A new Ed25519 pair: the answer holds the private half, this once. */
    generateSshKey: (name: string) => request<NewSshKey>('POST', '/api/ssh-keys/generate', { body: { name } }),
    removeSshKey: (keyId: string) => request<SshKey>('DELETE', `/api/ssh-keys/${enc(keyId)}`),
    consoleChunk: (url: string, signal?: AbortSignal) => fromBucket(deps.fetch, url, CHUNK_WORDS, signal),
  };
}

/** What a download from the bucket is, for its errors. */
interface BucketObject {
  what: string;
  code: string;
  /** The browser's HTTP cache: the feed changes in place under one URL, so it must never be kept. */
  cache?: RequestCache;
}

const CHUNK_WORDS: BucketObject = { what: 'the console output', code: 'chunk_unavailable' };
const LIVE_WORDS: BucketObject = { what: "the VM's live samples", code: 'live_unavailable', cache: 'no-store' };
const FEED_WORDS: BucketObject = { what: "the fleet's changes", code: 'feed_unavailable', cache: 'no-store' };

/**
 * The raw bytes of an object from its presigned URL (another origin: the
 * bucket). No token and no cookies go there, and nothing that would make the
 * browser ask CORS permission first (no header of ours; the cache mode is
 * not a header). A failure never shows the URL: it carries a signature.
 */
async function fromBucket(fetchFn: FetchFn, url: string, object: BucketObject, signal?: AbortSignal): Promise<Uint8Array> {
  const init: RequestInit = { method: 'GET', credentials: 'omit', mode: 'cors', referrerPolicy: 'no-referrer' };
  if (object.cache) init.cache = object.cache;
  if (signal) init.signal = signal;
  const unreachable = () => new ApiError(0, 'network_error', `Could not fetch ${object.what}.`);
  let response: Response;
  try {
    response = await fetchFn(url, init);
  } catch {
    throw unreachable();
  }
  if (!response.ok) {
    throw new ApiError(response.status, object.code, `${capitalised(object.what)} could not be fetched (${response.status}).`);
  }
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch {
    throw unreachable();
  }
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The change feed's body, `{"version": N}`. */
function versionIn(text: string): number {
  let body: unknown = null;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // refused below
  }
  if (isRecord(body) && Number.isInteger(body.version)) return body.version as number;
  throw new ApiError(0, 'feed_unreadable', "The fleet's change feed could not be read.");
}

/** A server too old to hand out a feed answers the version alone: that is no feed. */
function checkedFeed(answer: FleetFeed): FleetFeed {
  const feed = isRecord(answer.feed) ? answer.feed : null;
  if (feed && typeof feed.url === 'string' && typeof feed.expires_at === 'number' && typeof feed.poll_ms === 'number') {
    return answer;
  }
  throw new ApiError(0, 'feed_unavailable', "The server has no change feed.");
}

export type Api = ReturnType<typeof createApi>;

/** The app's API client: the browser's fetch and the in-memory session. */
export const api: Api = createApi({
  fetch: (input, init) => fetch(input, init),
  session: sessionStore,
});

/** A message for people from anything a call may throw. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}
