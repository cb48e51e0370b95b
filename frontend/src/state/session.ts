// The operator's session: the access token and who it belongs to.
//
// Kept in memory only (never localStorage), so a reload or a closed tab means
// logging in again and a script injected into the page finds no stored token.

import type { User } from '../types';

export interface Session {
  token: string;
  user: User;
}

export interface SessionSnapshot {
  session: Session | null;
  /** Why the operator is looking at the login page, e.g. an expired session. */
  notice: string;
}

export interface SessionStore {
  snapshot(): SessionSnapshot;
  token(): string | null;
  logIn(session: Session): void;
  logOut(): void;
  /** Ends the session that used `token` (if it is still the current one). */
  expire(token: string, notice: string): void;
  subscribe(listener: () => void): () => void;
}

export function createSessionStore(): SessionStore {
  let current: SessionSnapshot = { session: null, notice: '' };
  const listeners = new Set<() => void>();

  function set(next: SessionSnapshot): void {
    current = next;
    listeners.forEach((listener) => listener());
  }

  return {
    snapshot: () => current,
    token: () => current.session?.token ?? null,
    logIn: (session) => set({ session, notice: '' }),
    logOut: () => set({ session: null, notice: '' }),
    expire(token, notice) {
      if (current.session?.token === token) set({ session: null, notice });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The app's one session (module-level, in memory). */
export const sessionStore = createSessionStore();
