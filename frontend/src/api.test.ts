import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApi, queryString, toApiError, SESSION_EXPIRED, type FetchFn, type LockFn } from './api';
import { createSessionStore } from './state/session';
import { fakeServer, PASSWORD } from './test/fakeServer';
import { jsonResponse } from './test/fixtures';

const user = { user_id: 'u1', email: 'ops@example.test', role: 'operator' };

interface Call {
  url: string;
  init: RequestInit;
}

/** A fetch that answers from a list and remembers what it was asked. */
function fakeFetch(...answers: Array<Response | Error>) {
  const calls: Call[] = [];
  const fetch: FetchFn = async (url, init) => {
    calls.push({ url, init });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('unexpected request');
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, calls };
}

function loggedIn(token = 'tok-1') {
  const session = createSessionStore();
  session.logIn({ token, user, expiresIn: 900 });
  return session;
}

const expired = () => jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } });
const refused = () => jsonResponse(401, { error: { code: 'session_expired', message: 'Please log in again.' } });
const renewed = (token: string) =>
  jsonResponse(200, { access_token: token, token_type: 'Bearer', expires_in: 900, user });

async function caught(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('api', () => {
  it('sends the bearer token and returns the body', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(200, { agents: [] }));
    const api = createApi({ fetch, session: loggedIn('tok-1') });

    expect(await api.listAgents()).toEqual([]);
    expect(calls[0].url).toBe('/api/agents');
    expect(new Headers(calls[0].init.headers).get('Authorization')).toBe('Bearer tok-1');
  });

  it('turns an error body into an ApiError with status, code and message', async () => {
    const body = { error: { code: 'vm_not_found', message: "No VM 'web1' on this host." } };
    const { fetch } = fakeFetch(jsonResponse(404, body));
    const api = createApi({ fetch, session: loggedIn() });

    const error = await caught(api.vmAction('agt-1', 'web1', 'start'));
    expect(error).toMatchObject({ status: 404, code: 'vm_not_found', message: "No VM 'web1' on this host." });
  });

  it('posts the action as JSON to the VM\'s UUID path, the host id percent-encoded', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(202, { job_id: 'j1' }));
    const api = createApi({ fetch, session: loggedIn() });

    await api.vmAction('agt/1', '6695eb01-f6a4-8304-79aa-97f2502e193f', 'force-stop');
    expect(calls[0].url).toBe('/api/agents/agt%2F1/vms/6695eb01-f6a4-8304-79aa-97f2502e193f/actions');
    expect(calls[0].init.method).toBe('POST');
    expect(calls[0].init.body).toBe('{"action":"force-stop"}');
  });

  it('gives a body that is not our error shape a generic ApiError', async () => {
    const { fetch } = fakeFetch(new Response('<html>Bad Gateway</html>', { status: 502 }));
    const api = createApi({ fetch, session: loggedIn() });

    const error = await caught(api.listJobs());
    expect(error).toMatchObject({ status: 502, code: 'http_502' });
  });

  it('reports a network failure as an ApiError with status 0', async () => {
    const { fetch } = fakeFetch(new TypeError('Failed to fetch'));
    const api = createApi({ fetch, session: loggedIn() });

    const error = await caught(api.getJob('j1'));
    expect(error).toMatchObject({ status: 0, code: 'network_error' });
  });

  it('ends the session with a notice when a call answers 401 and the refresh is refused', async () => {
    const session = loggedIn();
    const { fetch, calls } = fakeFetch(expired(), refused());
    const api = createApi({ fetch, session });

    const error = await caught(api.listAgents());
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(calls.map((c) => c.url)).toEqual(['/api/agents', '/api/auth/refresh']);
    expect(session.snapshot()).toEqual({ session: null, notice: SESSION_EXPIRED });
  });

  it('replays a call that a newer session has already renewed, without another refresh', async () => {
    const session = loggedIn('old');
    const answers: Array<(r: Response) => void> = [];
    const calls: Call[] = [];
    const fetch: FetchFn = (url, init) => {
      calls.push({ url, init });
      return new Promise((resolve) => answers.push(resolve));
    };
    const api = createApi({ fetch, session });

    const pending = api.listAgents();
    session.logIn({ token: 'new', user, expiresIn: 900 });
    answers[0](expired());
    await vi.waitFor(() => expect(answers).toHaveLength(2));
    answers[1](jsonResponse(200, { agents: [] }));

    expect(await pending).toEqual([]);
    expect(new Headers(calls[1].init.headers).get('Authorization')).toBe('Bearer new');
    expect(session.token()).toBe('new');
  });

  it('shows a failed login as the server says and does not send a token', async () => {
    const session = createSessionStore();
    const body = { error: { code: 'invalid_credentials', message: 'Wrong email or password.' } };
    const { fetch, calls } = fakeFetch(jsonResponse(401, body));
    const api = createApi({ fetch, session });

    const error = await caught(api.login('ops@example.test', 'nope'));
    expect(error).toMatchObject({ status: 401, code: 'invalid_credentials', message: 'Wrong email or password.' });
    expect(new Headers(calls[0].init.headers).has('Authorization')).toBe(false);
    expect(session.snapshot().notice).toBe('');
  });

  it('refuses an authenticated call without a session, without a request', async () => {
    const { fetch, calls } = fakeFetch();
    const api = createApi({ fetch, session: createSessionStore() });

    const error = await caught(api.listAgents());
    expect(error.status).toBe(401);
    expect(calls).toHaveLength(0);
  });
});

describe('api: renewing the session', () => {
  it('refreshes with the cookie and the CSRF header, no body, and keeps the new token', async () => {
    const session = createSessionStore();
    const { fetch, calls } = fakeFetch(renewed('tok-2'));
    const api = createApi({ fetch, session });

    expect(await api.restoreSession()).toBe(true);
    expect(calls[0].url).toBe('/api/auth/refresh');
    expect(calls[0].init).toMatchObject({ method: 'POST', credentials: 'same-origin' });
    expect(calls[0].init.body).toBeUndefined();
    expect(new Headers(calls[0].init.headers).get('X-Requested-With')).toBe('fleetvisor');
    expect(new Headers(calls[0].init.headers).has('Authorization')).toBe(false);
    expect(session.snapshot().session).toEqual({ token: 'tok-2', user, expiresIn: 900 });
  });

  it('renews after a 401 and replays the call once with the new token', async () => {
    const session = loggedIn('tok-1');
    const { fetch, calls } = fakeFetch(expired(), renewed('tok-2'), jsonResponse(200, { agents: [] }));
    const api = createApi({ fetch, session });

    expect(await api.listAgents()).toEqual([]);
    expect(calls.map((c) => c.url)).toEqual(['/api/agents', '/api/auth/refresh', '/api/agents']);
    expect(new Headers(calls[2].init.headers).get('Authorization')).toBe('Bearer tok-2');
    expect(session.token()).toBe('tok-2');
  });

  it('gives up when the replayed call answers 401 too', async () => {
    const session = loggedIn('tok-1');
    const { fetch, calls } = fakeFetch(expired(), renewed('tok-2'), expired());
    const api = createApi({ fetch, session });

    expect((await caught(api.listAgents())).status).toBe(401);
    expect(calls).toHaveLength(3);
    expect(session.snapshot()).toEqual({ session: null, notice: SESSION_EXPIRED });
  });

  it('shares one refresh among calls that fail together, then replays each', async () => {
    const server = fakeServer();
    const session = createSessionStore();
    const api = createApi({ fetch: server.fetch, session });
    const answer = await api.login('ops@example.test', PASSWORD);
    session.logIn({ token: answer.access_token, user: answer.user, expiresIn: answer.expires_in });
    server.expireAccessTokens();
    server.state.refreshDelayMs = 20;

    const [agents, jobs, me] = await Promise.all([api.listAgents(), api.listJobs(), api.me()]);

    expect(agents).toHaveLength(1);
    expect(jobs).toEqual([]);
    expect(me.email).toBe('ops@example.test');
    expect(server.state.refreshCount).toBe(1);
    expect(server.count('GET /api/agents')).toBe(2);
    expect(session.token()).not.toBe(answer.access_token);
  });

  it('does not refresh for a 401 about a wrong current password', async () => {
    const session = loggedIn();
    const body = { error: { code: 'invalid_credentials', message: 'The current password is not correct.' } };
    const { fetch, calls } = fakeFetch(jsonResponse(401, body));
    const api = createApi({ fetch, session });

    const error = await caught(api.changePassword('wrong', 'a much longer password'));
    expect(error.code).toBe('invalid_credentials');
    expect(calls).toHaveLength(1);
    expect(session.token()).toBe('tok-1');
  });

  it('keeps the session when the refresh cannot reach the server', async () => {
    const session = loggedIn();
    const { fetch } = fakeFetch(expired(), new TypeError('Failed to fetch'));
    const api = createApi({ fetch, session });

    expect((await caught(api.listAgents())).code).toBe('network_error');
    expect(session.token()).toBe('tok-1');
  });

  it('does not bring back a session that was logged out while its refresh ran', async () => {
    const session = loggedIn();
    let answer: (r: Response) => void = () => {};
    const fetch: FetchFn = () => new Promise((resolve) => (answer = resolve));
    const api = createApi({ fetch, session });

    const pending = api.refreshSession();
    session.logOut();
    answer(renewed('tok-2'));
    expect(await pending).toBe(false);
    expect(session.token()).toBeNull();
  });

  it('ends the session when refresh is refused in any 4xx way, but not on a server fault', async () => {
    const gone = loggedIn();
    const first = fakeFetch(expired(), jsonResponse(404, { error: { code: 'route_not_found', message: 'No.' } }));
    await caught(createApi({ fetch: first.fetch, session: gone }).listAgents());
    expect(gone.snapshot().notice).toBe(SESSION_EXPIRED);

    const kept = loggedIn();
    const second = fakeFetch(expired(), jsonResponse(503, { error: { code: 'unavailable', message: 'Busy.' } }));
    expect((await caught(createApi({ fetch: second.fetch, session: kept }).listAgents())).status).toBe(503);
    expect(kept.token()).toBe('tok-1');
  });

  it('refreshes under the cross-tab lock', async () => {
    const events: string[] = [];
    const lock: LockFn = async (task) => {
      events.push('locked');
      const result = await task();
      events.push('released');
      return result;
    };
    const fetch: FetchFn = async (url) => {
      events.push(url);
      return renewed('tok-2');
    };
    const api = createApi({ fetch, session: createSessionStore(), lock });

    await api.restoreSession();
    expect(events).toEqual(['locked', '/api/auth/refresh', 'released']);
  });

  it('finds no session on load without a refresh cookie, or without a server', async () => {
    const first = fakeFetch(refused());
    expect(await createApi({ fetch: first.fetch, session: createSessionStore() }).restoreSession()).toBe(false);
    const second = fakeFetch(new TypeError('Failed to fetch'));
    expect(await createApi({ fetch: second.fetch, session: createSessionStore() }).restoreSession()).toBe(false);
  });

  it('reads Retry-After from a throttled login, as seconds or as a date', async () => {
    const throttled = (retryAfter: string) =>
      new Response(JSON.stringify({ error: { code: 'too_many_attempts', message: 'Too many failed logins.' } }), {
        status: 429,
        headers: { 'Retry-After': retryAfter },
      });
    const { fetch } = fakeFetch(throttled('120'), throttled('Wed, 01 Jan 2025 00:01:30 GMT'));
    const api = createApi({ fetch, session: createSessionStore(), now: () => Date.UTC(2025, 0, 1, 0, 0, 0) });

    expect(await caught(api.login('a@b.test', 'x'))).toMatchObject({ status: 429, retryAfter: 120 });
    expect(await caught(api.login('a@b.test', 'x'))).toMatchObject({ status: 429, retryAfter: 90 });
  });
});

describe('api: consoles', () => {
  it('opens a console with an empty body on the VM\'s UUID path, the host id percent-encoded', async () => {
    const join = { console: { console_id: 'c1' }, client_id: 'k1', writer: true };
    const { fetch, calls } = fakeFetch(jsonResponse(201, join));
    const api = createApi({ fetch, session: loggedIn() });

    expect(await api.openConsole('agt/1', '6695eb01-f6a4-8304-79aa-97f2502e193f')).toEqual(join);
    expect(calls[0].url).toBe('/api/agents/agt%2F1/vms/6695eb01-f6a4-8304-79aa-97f2502e193f/console');
    expect(calls[0].init).toMatchObject({ method: 'POST', body: '{}' });
  });

  it('long-polls output with after, wait and the client id (none for a replay)', async () => {
    const answer = { chunks: [], next: 7, more: false, status: 'open', closed_reason: null, writer: true };
    const { fetch, calls } = fakeFetch(jsonResponse(200, answer), jsonResponse(200, answer));
    const api = createApi({ fetch, session: loggedIn() });

    expect(await api.consoleOutput('c1', { after: 7, wait: 20, clientId: 'k 1' })).toEqual(answer);
    await api.consoleOutput('c1', { after: 0, wait: 0, clientId: null });
    expect(calls.map((c) => c.url)).toEqual([
      '/api/consoles/c1/output?after=7&wait=20&client_id=k+1',
      '/api/consoles/c1/output?after=0&wait=0',
    ]);
  });

  it('passes an abort signal through to fetch', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(200, {}));
    const api = createApi({ fetch, session: loggedIn() });
    const aborter = new AbortController();

    await api.consoleOutput('c1', { after: 0, wait: 20, clientId: 'k1', signal: aborter.signal });
    expect(calls[0].init.signal).toBe(aborter.signal);
  });

  it('lists sessions with the next cursor as `next`', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(200, { consoles: [{ console_id: 'c1' }], next_cursor: 'n2' }));
    const api = createApi({ fetch, session: loggedIn() });

    expect(await api.listConsoles({ agentId: 'agt-1', vmUuid: 'u1' }, 'n1')).toEqual({
      items: [{ console_id: 'c1' }],
      next: 'n2',
    });
    expect(calls[0].url).toBe('/api/consoles?agent_id=agt-1&vm_uuid=u1&limit=50&cursor=n1');
  });

  it('sends input and take-over with the client id', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(202, { seq: 1 }), jsonResponse(200, { writer: true }));
    const api = createApi({ fetch, session: loggedIn() });

    await api.consoleInput('c1', 'k1', 'ls\r');
    await api.takeConsoleWriter('c1', 'k1');
    expect(calls.map((c) => [c.url, c.init.body])).toEqual([
      ['/api/consoles/c1/input', '{"client_id":"k1","data":"ls\\r"}'],
      ['/api/consoles/c1/writer', '{"client_id":"k1"}'],
    ]);
  });

  it('downloads a chunk as bytes with no token, no cookies and no referrer', async () => {
    const { fetch, calls } = fakeFetch(new Response(new Uint8Array([0xc3, 0xa9])));
    const api = createApi({ fetch, session: loggedIn() });

    expect(await api.consoleChunk('https://bucket.example.test/c1/1?X-Amz-Signature=s')).toEqual(
      new Uint8Array([0xc3, 0xa9]),
    );
    expect(new Headers(calls[0].init.headers).get('Authorization')).toBeNull();
    expect(calls[0].init).toMatchObject({ method: 'GET', credentials: 'omit', mode: 'cors', referrerPolicy: 'no-referrer' });
  });

  it('reports a chunk that cannot be fetched without showing its signed URL', async () => {
    const { fetch } = fakeFetch(new Response('<Error>AccessDenied</Error>', { status: 403 }), new TypeError('offline'));
    const api = createApi({ fetch, session: loggedIn() });
    const url = 'https://bucket.example.test/c1/1?X-Amz-Signature=secret';

    const expired = await caught(api.consoleChunk(url));
    expect(expired).toMatchObject({ status: 403, code: 'chunk_unavailable' });
    const offline = await caught(api.consoleChunk(url));
    expect(offline).toMatchObject({ status: 0, code: 'network_error' });
    expect(`${expired.message} ${offline.message}`).not.toContain('secret');
  });
});

describe('api: the change feed', () => {
  const url = 'https://bucket.example.test/changes/u1?X-Amz-Signature=secret';
  const feed = { url, expires_at: 1_700_000_900, poll_ms: 1500 };

  it('asks GET /api/changes without a wait, and answers the version with its feed', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(200, { version: 4, feed }));
    const api = createApi({ fetch, session: loggedIn() });
    expect(await api.fleetFeed()).toEqual({ version: 4, feed });
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([['GET', '/api/changes']]);
  });

  it('refuses an answer with no feed (a server from before it), so the page keeps its tick only', async () => {
    const { fetch } = fakeFetch(jsonResponse(200, { version: 4 }));
    const api = createApi({ fetch, session: loggedIn() });
    expect(await caught(api.fleetFeed())).toMatchObject({ code: 'feed_unavailable' });
  });

  it('reads the feed with a plain GET: no header (no CORS preflight), no cookies, no cache', async () => {
    const { fetch, calls } = fakeFetch(new Response('{"version": 12}'));
    const api = createApi({ fetch, session: loggedIn() });
    expect(await api.readFeed(url)).toBe(12);
    expect(calls[0].url).toBe(url);
    expect(calls[0].init.headers).toBeUndefined();
    expect(calls[0].init).toMatchObject({ method: 'GET', credentials: 'omit', mode: 'cors', cache: 'no-store' });
  });

  it('says 403 for an expired URL and never shows it; a body without a version is refused', async () => {
    const { fetch } = fakeFetch(new Response('<Error>AccessDenied</Error>', { status: 403 }), new Response('{}'));
    const api = createApi({ fetch, session: loggedIn() });
    const expired = await caught(api.readFeed(url));
    expect(expired).toMatchObject({ status: 403, code: 'feed_unavailable' });
    expect(expired.message).not.toContain('secret');
    expect(await caught(api.readFeed(url))).toMatchObject({ code: 'feed_unreadable' });
  });

  it('pings the hosts with a POST', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(200, { pinged: 2 }));
    const api = createApi({ fetch, session: loggedIn() });
    expect(await api.pingAgents()).toEqual({ pinged: 2 });
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([['POST', '/api/agents/ping']]);
  });
});

describe('queryString', () => {
  it('leaves out unset values and encodes the rest', () => {
    expect(queryString({ limit: 50, cursor: null, action: '', since_ms: undefined })).toBe('?limit=50');
    expect(queryString({ action: 'a b&c' })).toBe('?action=a+b%26c');
    expect(queryString({})).toBe('');
  });
});

describe('toApiError', () => {
  it("keeps a refusal's fields (text only), for forms to show beside each", () => {
    const body = { error: { code: 'invalid_inputs', message: 'Bad.', fields: { 'inputs.hostname': 'is required.', odd: 3 } } };
    const error = toApiError(400, body);
    expect(error.fields).toEqual({ 'inputs.hostname': 'is required.' });
    expect(toApiError(400, { error: { code: 'x', message: 'y' } }).fields).toEqual({});
  });
});
