import { describe, expect, it } from 'vitest';
import { ApiError, createApi, SESSION_EXPIRED, type FetchFn } from './api';
import { createSessionStore } from './state/session';
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
  session.logIn({ token, user });
  return session;
}

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

  it('posts the action as JSON to the percent-encoded VM path', async () => {
    const { fetch, calls } = fakeFetch(jsonResponse(202, { job_id: 'j1' }));
    const api = createApi({ fetch, session: loggedIn() });

    await api.vmAction('agt/1', 'web 1', 'force-stop');
    expect(calls[0].url).toBe('/api/agents/agt%2F1/vms/web%201/actions');
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

  it('ends the session with a notice when an authenticated call answers 401', async () => {
    const session = loggedIn();
    const { fetch } = fakeFetch(jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } }));
    const api = createApi({ fetch, session });

    const error = await caught(api.listAgents());
    expect(error.status).toBe(401);
    expect(session.snapshot()).toEqual({ session: null, notice: SESSION_EXPIRED });
  });

  it('keeps a newer session when a request made with an older token answers 401', async () => {
    const session = loggedIn('old');
    let answer: (r: Response) => void = () => {};
    const fetch: FetchFn = () => new Promise((resolve) => (answer = resolve));
    const api = createApi({ fetch, session });

    const pending = api.listAgents();
    session.logIn({ token: 'new', user });
    answer(jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } }));
    await caught(pending);
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
