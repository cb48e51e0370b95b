// The fake API's identity routes: login, refresh (with the refresh cookie as
// the browser would keep it), logout, /me, sessions and users.

import type { FakeServerState } from './fakeServer';
import { account, fail, ok, weakPassword, page, type FakeRequest, type FakeUser, type Route } from './fakeHttp';

export function identityRoutes(state: FakeServerState, audit: (action: string, target: string) => void): Route[] {
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}-${++counter}`;

  function issueToken(userId: string, sessionId: string): string {
    const token = nextId('at');
    state.accessTokens.set(token, { userId, sessionId });
    return token;
  }

  function loginAnswer(user: FakeUser, sessionId: string) {
    const { user_id, email, role } = user;
    return ok({
      access_token: issueToken(user.user_id, sessionId),
      token_type: 'Bearer',
      expires_in: state.expiresIn,
      user: { user_id, email, role },
    });
  }

  /** Ends the sessions `drop` picks, and their access tokens. */
  function endSessions(drop: (s: FakeServerState['sessions'][number]) => boolean): void {
    const ended = new Set(state.sessions.filter(drop).map((s) => s.session_id));
    state.sessions = state.sessions.filter((s) => !ended.has(s.session_id));
    for (const [token, owner] of state.accessTokens) if (ended.has(owner.sessionId)) state.accessTokens.delete(token);
  }

  function login({ body }: FakeRequest): Response {
    if (state.throttleSeconds !== null) {
      return fail(429, 'too_many_attempts', 'Too many failed logins.', { 'Retry-After': String(state.throttleSeconds) });
    }
    const user = state.users.find((u) => u.email === String(body.email).toLowerCase());
    if (!user || user.password !== body.password || user.disabled) {
      return fail(401, 'invalid_credentials', 'The email or password is not correct.');
    }
    const sessionId = nextId('ses');
    const refresh = nextId('rt');
    state.sessions.push({
      session_id: sessionId,
      user_id: user.user_id,
      refresh,
      created_ms: 1_700_000_000_000 + counter,
      last_used_ms: 1_700_000_000_000 + counter,
      expires_ms: 1_700_043_200_000,
      user_agent: 'Vitest <b>browser</b>',
      source_ip: '192.0.2.10',
    });
    state.cookie = refresh;
    audit('auth.login', user.email);
    return loginAnswer(user, sessionId);
  }

  async function refresh({ headers, init }: FakeRequest): Promise<Response> {
    state.refreshCount += 1;
    if (state.refreshDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.refreshDelayMs));
    if (headers.get('X-Requested-With') !== 'fleetvisor') return fail(403, 'csrf_check_failed', 'Missing header.');
    const sendsCookies = init.credentials === 'same-origin' || init.credentials === 'include';
    const cookie = sendsCookies ? state.cookie : null;
    const session = state.sessions.find((s) => s.refresh === cookie);
    const user = state.users.find((u) => u.user_id === session?.user_id);
    if (!session || !user || user.disabled) return fail(401, 'session_expired', 'Please log in again.');
    session.refresh = nextId('rt');
    state.cookie = session.refresh;
    return loginAnswer(user, session.session_id);
  }

  function changePassword({ body, caller }: FakeRequest): Response {
    const { user, sessionId } = caller!;
    if (body.current_password !== user.password) {
      return fail(401, 'invalid_credentials', 'The current password is not correct.');
    }
    const weak = weakPassword(body.new_password);
    if (weak) return weak;
    user.password = String(body.new_password);
    endSessions((s) => s.user_id === user.user_id && s.session_id !== sessionId);
    for (const [token, owner] of state.accessTokens) if (owner.sessionId === sessionId) state.accessTokens.delete(token);
    const session = state.sessions.find((s) => s.session_id === sessionId)!;
    session.refresh = nextId('rt');
    state.cookie = session.refresh;
    return loginAnswer(user, sessionId);
  }

  function sessionsOf({ caller }: FakeRequest): Response {
    const mine = state.sessions.filter((s) => s.user_id === caller!.user.user_id);
    return ok({
      sessions: mine.map(({ refresh: _r, user_id: _u, ...s }) => ({ ...s, current: s.session_id === caller!.sessionId })),
    });
  }

  function revokeSession({ caller, params }: FakeRequest): Response {
    const found = state.sessions.find((s) => s.session_id === params[0] && s.user_id === caller!.user.user_id);
    if (!found) return fail(404, 'session_not_found', 'No such session.');
    endSessions((s) => s.session_id === found.session_id);
    return ok({});
  }

  /** PATCH /api/me: the caller's name and whether new hosts need their approval. */
  function updateMe({ body, caller }: FakeRequest): Response {
    const { user } = caller!;
    if ('require_host_approval' in body && typeof body.require_host_approval !== 'boolean') {
      return fail(400, 'invalid_request', "'require_host_approval' must be true or false.");
    }
    if (typeof body.require_host_approval === 'boolean') user.require_host_approval = body.require_host_approval;
    if (typeof body.name === 'string') user.name = body.name;
    return ok(account(user));
  }

  const admin = (handle: Route['handle']): Route['handle'] => (request) =>
    request.caller!.user.role === 'admin' ? handle(request) : fail(403, 'admin_required', 'Admins only.');

  function userById(id: string): FakeUser | undefined {
    return state.users.find((u) => u.user_id === id);
  }

  function createUser({ body }: FakeRequest): Response {
    const email = String(body.email ?? '').toLowerCase();
    if (!email.includes('@')) return fail(400, 'invalid_request', 'email: not an email address.');
    if (state.users.some((u) => u.email === email)) return fail(409, 'email_taken', 'That email is taken.');
    const weak = weakPassword(body.password);
    if (weak) return weak;
    const user: FakeUser = {
      user_id: nextId('usr'),
      email,
      name: String(body.name ?? ''),
      role: body.role === 'admin' ? 'admin' : 'operator',
      disabled: false,
      created_ms: 1_700_000_100_000,
      require_host_approval: false,
      password: String(body.password),
    };
    state.users.push(user);
    audit('user.create', email);
    return ok(account(user), 201);
  }

  function updateUser({ body, params }: FakeRequest): Response {
    const user = userById(params[0]);
    if (!user) return fail(404, 'user_not_found', 'No such user.');
    if (typeof body.name === 'string') user.name = body.name;
    if (body.role === 'admin' || body.role === 'operator') user.role = body.role;
    if (typeof body.disabled === 'boolean') user.disabled = body.disabled;
    if (user.disabled) endSessions((s) => s.user_id === user.user_id);
    return ok(account(user));
  }

  function resetPassword({ body, params }: FakeRequest): Response {
    const user = userById(params[0]);
    if (!user) return fail(404, 'user_not_found', 'No such user.');
    const weak = weakPassword(body.new_password);
    if (weak) return weak;
    user.password = String(body.new_password);
    endSessions((s) => s.user_id === user.user_id);
    return ok(account(user));
  }

  return [
    { method: 'POST', pattern: /^\/api\/auth\/login$/, open: true, handle: login },
    { method: 'POST', pattern: /^\/api\/auth\/refresh$/, open: true, handle: refresh },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/logout$/,
      handle: ({ caller }) => {
        endSessions((s) => s.session_id === caller!.sessionId);
        state.cookie = null;
        return ok({});
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/logout-all$/,
      handle: ({ caller }) => {
        endSessions((s) => s.user_id === caller!.user.user_id);
        state.cookie = null;
        return ok({});
      },
    },
    { method: 'GET', pattern: /^\/api\/me$/, handle: ({ caller }) => ok(account(caller!.user)) },
    { method: 'PATCH', pattern: /^\/api\/me$/, handle: updateMe },
    { method: 'POST', pattern: /^\/api\/me\/password$/, handle: changePassword },
    { method: 'GET', pattern: /^\/api\/me\/sessions$/, handle: sessionsOf },
    { method: 'DELETE', pattern: /^\/api\/me\/sessions\/([^/]+)$/, handle: revokeSession },
    {
      method: 'GET',
      pattern: /^\/api\/users$/,
      handle: admin(({ query }) => {
        const { items, next } = page(state.users.map(account), query, state.pageSize);
        return ok({ users: items, next });
      }),
    },
    { method: 'POST', pattern: /^\/api\/users$/, handle: admin(createUser) },
    { method: 'PATCH', pattern: /^\/api\/users\/([^/]+)$/, handle: admin(updateUser) },
    { method: 'POST', pattern: /^\/api\/users\/([^/]+)\/password$/, handle: admin(resetPassword) },
  ];
}
