// Every field the operator types into stops at the server's limit, and the
// login form takes every address user creation takes (issue 17, #8).

import { render, waitFor } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { LoginForm } from './components/LoginForm';
import { createSessionStore } from './state/session';
import { asAdmin, goTo, loggedInApp } from './test/renderApp';
import { MAX_EMAIL, MAX_PASSWORD } from './limits';

/** Inputs a person types free text into, on the page as it is now. */
function typedFields(): HTMLInputElement[] {
  return Array.from(
    document.querySelectorAll<HTMLInputElement>(
      'input:not([type]), input[type=text], input[type=email], input[type=password], input[type=search], textarea',
    ),
  );
}

describe('form limits', () => {
  it('gives every typed field of every page a maximum length', async () => {
    await loggedInApp(asAdmin);
    const unbounded: string[] = [];
    for (const page of ['users', 'account', 'tokens', 'audit'] as const) {
      goTo(page);
      await waitFor(() => expect(typedFields().length).toBeGreaterThan(0));
      for (const field of typedFields()) if (!(field.maxLength > 0)) unbounded.push(`${page}: ${field.name}`);
    }
    expect(unbounded).toEqual([]);
  });

  it('lets the login form take an internationalised address, up to the server limits', () => {
    render(<LoginForm api={{ login: vi.fn() }} session={createSessionStore()} />);
    const email = document.querySelector<HTMLInputElement>('input[name=email]')!;
    email.value = 'zoë@exämple.com';

    expect(email.checkValidity()).toBe(true);
    expect(email.maxLength).toBe(MAX_EMAIL);
    expect(document.querySelector<HTMLInputElement>('input[name=password]')!.maxLength).toBe(MAX_PASSWORD);
  });
});
