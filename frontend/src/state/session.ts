// The operator's session: the access token and who it belongs to.
//
// The access token is kept in memory only (never localStorage), so a script
// injected into the page finds no stored token. What survives a reload is the
// HttpOnly refresh cookie, which the page cannot read: on load the app asks
// POST /api/auth/refresh for a new access token (see api.ts).

import type { LoginResponse, User } from '../types';
import { createStore } from './store';

export interface Session {
  token: string;
  user: User;
  /** Seconds the token is valid for, counted from when it was received. */
  expiresIn: number;
}

export interface SessionSnapshot {
  session: Session | null;
  /** Why the operator is looking at the login page, e.g. an expired session. */
  notice: string;
}

export interface SessionStore {
  snapshot(): SessionSnapshot;
  token(): string | null;
  /** Starts a session, or continues it with a fresh token. */
  logIn(session: Session): void;
  logOut(): void;
  /** Ends the session that used `token` (if it is still the current one). */
  expire(token: string, notice: string): void;
  subscribe(listener: () => void): () => void;
}

/** The session carried by a login, refresh or password-change answer. */
export function sessionFrom(answer: LoginResponse): Session {
  return { token: answer.access_token, user: answer.user, expiresIn: answer.expires_in };
}

export function isAdmin(user: User): boolean {
  return user.role === 'admin';
}

export function createSessionStore(): SessionStore {
  const store = createStore<SessionSnapshot>({ session: null, notice: '' });
  const set = store.set;

  return {
    snapshot: store.get,
    token: () => store.get().session?.token ?? null,
    logIn: (session) => set({ session, notice: '' }),
    logOut: () => set({ session: null, notice: '' }),
    expire(token, notice) {
      if (store.get().session?.token === token) set({ session: null, notice });
    },
    subscribe: store.subscribe,
  };
}

/** The app's one session (module-level, in memory). */
export const sessionStore = createSessionStore();
