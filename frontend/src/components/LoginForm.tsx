// Email + password → POST /api/auth/login → the in-memory session.

import { useState } from 'preact/hooks';
import { ApiError, errorMessage, type Api } from '../api';
import { formatWait } from '../format';
import { fieldValue } from '../forms';
import { sessionFrom, type SessionStore } from '../state/session';
import { MAX_EMAIL, MAX_PASSWORD } from '../limits';

interface Props {
  api: Pick<Api, 'login'>;
  session: SessionStore;
  /** Shown on arrival, e.g. why the last session ended. */
  notice?: string;
}

/** The reason a login failed; when throttled (429), with how long to wait. */
export function loginFailure(error: unknown): string {
  const message = errorMessage(error);
  if (error instanceof ApiError && error.status === 429 && error.retryAfter !== null) {
    return `${message} Try again in ${formatWait(error.retryAfter)}.`;
  }
  return message;
}

export function LoginForm({ api, session, notice = '' }: Props) {
  const [message, setMessage] = useState(notice);
  const [busy, setBusy] = useState(false);

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    setBusy(true);
    setMessage('');
    try {
      const answer = await api.login(fieldValue(form, 'email').trim(), fieldValue(form, 'password'));
      session.logIn(sessionFrom(answer));
    } catch (error) {
      setMessage(loginFailure(error));
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Fleetvisor</h1>
        <p class="muted">Log in to manage your hosts and VMs.</p>
        <label>
          Email
          <input name="email" type="text" inputMode="email" spellcheck={false} autocomplete="username" maxLength={MAX_EMAIL} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" maxLength={MAX_PASSWORD} required />
        </label>
        {message && (
          <p class="error" role="alert" data-testid="login-error">
            {message}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
