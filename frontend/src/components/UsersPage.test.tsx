import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { aUser, fakeServer } from '../test/fakeServer';
import { asAdmin, fill, goTo, loggedInApp } from '../test/renderApp';

async function usersPage(server = fakeServer()) {
  const opened = await loggedInApp({ server, ...asAdmin });
  goTo('users');
  await screen.findAllByTestId('user-row');
  return opened;
}

function rowOf(email: string): HTMLElement {
  const row = document.querySelector<HTMLElement>(`[data-testid=user-row][data-email="${email}"]`);
  if (!row) throw new Error(`no row for ${email}`);
  return row;
}

function createUser(values: Record<string, string>) {
  const form = screen.getByTestId('user-form');
  fill(form, values);
  fireEvent.submit(form);
}

const GOOD = { email: 'new@example.test', name: 'Nia New', role: 'admin', password: 'a long enough password' };

describe('Users page', () => {
  it('lists every user with email, name, role, disabled and created', async () => {
    await usersPage();

    const row = rowOf('ops@example.test');
    expect(row.dataset.userId).toBe('u1');
    expect(within(row).getByTestId('user-name').textContent).toBe('Olive Operator');
    expect(within(row).getByTestId('user-disabled').textContent).toBe('no');
    expect((within(row).getByRole('combobox') as HTMLSelectElement).value).toBe('operator');
    expect(screen.getAllByTestId('user-row')).toHaveLength(2);
  });

  it('shows a name with markup as text, never as HTML', async () => {
    const server = fakeServer();
    const name = '<img src=x onerror=alert(1)><b>bold</b>';
    server.state.users.push(aUser({ user_id: 'u9', email: 'x@example.test', name }));
    await usersPage(server);

    expect(within(rowOf('x@example.test')).getByTestId('user-name').textContent).toBe(name);
    expect(document.querySelector('img')).toBeNull();
    expect(document.querySelector('main b')).toBeNull();
  });

  it('creates a user', async () => {
    const { server } = await usersPage();

    createUser(GOOD);
    await waitFor(() => expect(rowOf('new@example.test').dataset.role).toBe('admin'));
    expect(server.state.users.at(-1)).toMatchObject({ email: 'new@example.test', name: 'Nia New', role: 'admin' });
    expect(screen.getByTestId('form-success').textContent).toBe('Created new@example.test.');
  });

  it("shows the server's reasons for refusing a user", async () => {
    await usersPage();

    createUser({ ...GOOD, password: 'short' });
    expect((await screen.findByTestId('form-error')).textContent).toBe('The password must be at least 12 characters long.');
    createUser({ ...GOOD, email: 'ops@example.test' });
    await waitFor(() => expect(screen.getByTestId('form-error').textContent).toBe('That email is taken.'));
    expect(screen.getAllByTestId('user-row')).toHaveLength(2);
  });

  it('disables and enables a user', async () => {
    const { server } = await usersPage();

    fireEvent.click(rowOf('ops@example.test').querySelector('button[data-action=disable]')!);
    expect(within(rowOf('ops@example.test')).getByRole('alertdialog').textContent).toContain('sessions end now');
    expect(server.state.users[0].disabled).toBe(false); // one click only asks
    fireEvent.click(within(rowOf('ops@example.test')).getByRole('button', { name: 'Yes, disable ops@example.test' }));
    await waitFor(() => expect(within(rowOf('ops@example.test')).getByTestId('user-disabled').textContent).toBe('yes'));
    expect(server.state.users[0].disabled).toBe(true);

    fireEvent.click(rowOf('ops@example.test').querySelector('button[data-action=enable]')!);
    await waitFor(() => expect(within(rowOf('ops@example.test')).getByTestId('user-disabled').textContent).toBe('no'));
  });

  it('changes a role', async () => {
    const { server } = await usersPage();

    fireEvent.change(within(rowOf('ops@example.test')).getByRole('combobox'), { target: { value: 'admin' } });
    await waitFor(() => expect(rowOf('ops@example.test').dataset.role).toBe('admin'));
    expect(server.state.users[0].role).toBe('admin');
  });

  it('resets a password in an inline form, showing refusals there', async () => {
    const { server } = await usersPage();
    fireEvent.click(rowOf('ops@example.test').querySelector('button[data-action=reset-password]')!);
    const form = await screen.findByTestId('reset-password-form');

    fill(form, { new_password: 'short' });
    fireEvent.submit(form);
    expect((await within(form).findByTestId('form-error')).textContent).toBe(
      'The password must be at least 12 characters long.',
    );

    fill(form, { new_password: 'another long password' });
    fireEvent.submit(form);
    await waitFor(() => expect(screen.queryByTestId('reset-password-form')).toBeNull());
    expect(server.state.users[0].password).toBe('another long password');
    expect(rowOf('ops@example.test').textContent).toContain('Password reset');
  });

  it("clears a row's old refusal once something on the row succeeds", async () => {
    const server = await usersPage().then((opened) => opened.server);
    server.failNext('PATCH /api/users/u1', 409, 'cannot_change_self', 'Not now.');
    fireEvent.change(within(rowOf('ops@example.test')).getByRole('combobox'), { target: { value: 'admin' } });
    expect((await within(rowOf('ops@example.test')).findByTestId('action-error')).textContent).toBe('Not now.');

    fireEvent.click(rowOf('ops@example.test').querySelector('button[data-action=reset-password]')!);
    const form = await screen.findByTestId('reset-password-form');
    fill(form, { new_password: 'another long password' });
    fireEvent.submit(form);
    await waitFor(() => expect(rowOf('ops@example.test').textContent).toContain('Password reset'));
    expect(within(rowOf('ops@example.test')).queryByTestId('action-error')).toBeNull();
  });

  it('pages through many users with Load more', async () => {
    const server = fakeServer();
    server.state.pageSize = 2;
    server.state.users.push(aUser({ user_id: 'u7', email: 'third@example.test' }));
    await usersPage(server);
    expect(screen.getAllByTestId('user-row')).toHaveLength(2);

    fireEvent.click(screen.getByTestId('users-more'));
    await waitFor(() => expect(screen.getAllByTestId('user-row')).toHaveLength(3));
    expect(screen.queryByTestId('users-more')).toBeNull();
  });
});
