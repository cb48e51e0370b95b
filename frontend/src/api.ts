// The one way the app talks to the operator API (same origin, /api/...).
//
// Every call goes through `request`: it adds the bearer token, turns error
// bodies ({"error": {"code", "message"}}) into an ApiError, and ends the
// session when an authenticated call answers 401.

import { sessionStore, type SessionStore } from './state/session';
import type { Agent, Job, LoginResponse, VM, VmAction } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiDeps {
  fetch: FetchFn;
  session: SessionStore;
}

export const SESSION_EXPIRED = 'Your session has ended. Please log in again.';

interface RequestOptions {
  body?: unknown;
  /** Send the bearer token and treat a 401 as the end of the session. */
  auth?: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds the ApiError for a non-2xx answer from its status and parsed body. */
export function toApiError(status: number, body: unknown): ApiError {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ApiError(status, error.code, error.message);
  }
  return new ApiError(status, `http_${status}`, `The server answered ${status}.`);
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function buildInit(method: string, token: string | null, body: unknown): RequestInit {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body === undefined) return { method, headers, credentials: 'same-origin' };
  headers['Content-Type'] = 'application/json';
  return { method, headers, credentials: 'same-origin', body: JSON.stringify(body) };
}

export function createApi(deps: ApiDeps) {
  async function send(method: string, path: string, init: RequestInit): Promise<Response> {
    try {
      return await deps.fetch(path, init);
    } catch {
      throw new ApiError(0, 'network_error', `Could not reach the server (${method} ${path}).`);
    }
  }

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    const token = auth ? deps.session.token() : null;
    if (auth && token === null) throw new ApiError(401, 'unauthorized', SESSION_EXPIRED);
    const response = await send(method, path, buildInit(method, token, options.body));
    const body = await readJson(response);
    if (response.ok) return body as T;
    if (response.status === 401 && token !== null) deps.session.expire(token, SESSION_EXPIRED);
    throw toApiError(response.status, body);
  }

  const enc = encodeURIComponent;

  return {
    login: (email: string, password: string) =>
      request<LoginResponse>('POST', '/api/auth/login', { body: { email, password }, auth: false }),
    listAgents: () => request<{ agents: Agent[] }>('GET', '/api/agents').then((r) => r.agents),
    listVms: (agentId: string) =>
      request<{ vms: VM[] }>('GET', `/api/agents/${enc(agentId)}/vms`).then((r) => r.vms),
    vmAction: (agentId: string, vmUuid: string, action: VmAction) =>
      request<Job>('POST', `/api/agents/${enc(agentId)}/vms/${enc(vmUuid)}/actions`, {
        body: { action },
      }),
    listJobs: (limit = 20) =>
      request<{ jobs: Job[] }>('GET', `/api/jobs?limit=${limit}`).then((r) => r.jobs),
    getJob: (jobId: string) => request<Job>('GET', `/api/jobs/${enc(jobId)}`),
  };
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
