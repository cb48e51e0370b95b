import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { createSessionStore } from '../state/session';
import { LoginForm } from './LoginForm';

const user = { user_id: 'u1', email: 'ops@example.test', role: 'operator' };

function fillAndSubmit(email: string, password: string) {
  fireEvent.input(document.querySelector('input[name=email]')!, { target: { value: email } });
  fireEvent.input(document.querySelector('input[name=password]')!, { target: { value: password } });
  fireEvent.submit(document.querySelector('form')!);
}

describe('LoginForm', () => {
  it('logs in and keeps the token in the session store', async () => {
    const session = createSessionStore();
    const login = vi.fn(async () => ({ access_token: 'tok', token_type: 'Bearer' as const, expires_in: 900, user }));
    render(<LoginForm api={{ login }} session={session} />);

    fillAndSubmit(' ops@example.test ', 'secret');
    await waitFor(() => expect(session.token()).toBe('tok'));
    expect(login).toHaveBeenCalledWith('ops@example.test', 'secret');
    expect(session.snapshot().session?.expiresIn).toBe(900);
    expect(session.snapshot().session?.user.email).toBe('ops@example.test');
  });

  it('shows the message from a refused login', async () => {
    const session = createSessionStore();
    const login = vi.fn(async () => {
      throw new ApiError(401, 'invalid_credentials', 'Wrong email or password.');
    });
    render(<LoginForm api={{ login }} session={session} />);

    fillAndSubmit('ops@example.test', 'wrong');
    const error = await screen.findByTestId('login-error');
    expect(error.textContent).toBe('Wrong email or password.');
    expect(session.token()).toBeNull();
    expect((document.querySelector('button[type=submit]') as HTMLButtonElement).disabled).toBe(false);
  });

  it('shows why the previous session ended', () => {
    render(<LoginForm api={{ login: vi.fn() }} session={createSessionStore()} notice="Your session has ended." />);

    expect(screen.getByTestId('login-error').textContent).toBe('Your session has ended.');
  });

  it('shows a throttled login with how long to wait', async () => {
    const login = vi.fn(async () => {
      throw new ApiError(429, 'too_many_attempts', 'Too many failed logins.', 45);
    });
    render(<LoginForm api={{ login }} session={createSessionStore()} />);

    fillAndSubmit('ops@example.test', 'wrong');
    const error = await screen.findByTestId('login-error');
    expect(error.textContent).toBe('Too many failed logins. Try again in 45 seconds.');
  });
});
