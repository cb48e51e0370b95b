import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer, PASSWORD } from '../test/fakeServer';
import { fill, goTo, loggedInApp, openApp } from '../test/renderApp';
import { PASSWORDS_DIFFER } from './PasswordForm';

const NEW_PASSWORD = 'correct horse battery staple';

async function accountPage(server = fakeServer()) {
  const opened = await loggedInApp({ server });
  goTo('account');
  await screen.findAllByTestId('session-row');
  return opened;
}

function changePassword(values: Record<string, string>) {
  const form = screen.getByTestId('password-form');
  fill(form, values);
  fireEvent.submit(form);
}

describe('Account page: profile and password', () => {
  it('shows email, name and role, with markup in a name as plain text', async () => {
    const server = fakeServer();
    server.state.users[0].name = '<img src=x onerror=alert(1)>';
    await accountPage(server);

    await waitFor(() => expect(screen.getByTestId('account-name').textContent).toBe('<img src=x onerror=alert(1)>'));
    expect(screen.getByTestId('account-email').textContent).toBe('ops@example.test');
    expect(screen.getByTestId('account-role').textContent).toBe('operator');
    expect(document.querySelector('img')).toBeNull();
  });

  it('refuses a confirmation that differs, without asking the server', async () => {
    const { server } = await accountPage();

    changePassword({ current_password: PASSWORD, new_password: NEW_PASSWORD, confirm_password: 'something else' });
    expect((await screen.findByTestId('form-error')).textContent).toBe(PASSWORDS_DIFFER);
    expect(server.count('POST /api/me/password')).toBe(0);
  });

  it("shows the server's weak_password message", async () => {
    await accountPage();

    changePassword({ current_password: PASSWORD, new_password: 'short', confirm_password: 'short' });
    expect((await screen.findByTestId('form-error')).textContent).toBe('The password must be at least 12 characters long.');
  });

  it('shows a wrong current password and stays logged in', async () => {
    const { session } = await accountPage();

    changePassword({ current_password: 'not it', new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    expect((await screen.findByTestId('form-error')).textContent).toBe('The current password is not correct.');
    expect(session.token()).not.toBeNull();
  });

  it('changes the password, carries on with the new token, and lists only this session', async () => {
    const server = fakeServer();
    await server.logInElsewhere();
    const { session } = await accountPage(server);
    await waitFor(() => expect(screen.getAllByTestId('session-row')).toHaveLength(2));
    const before = session.token();

    changePassword({ current_password: PASSWORD, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    await screen.findByTestId('form-success');

    expect(session.token()).not.toBe(before);
    expect(server.state.users[0].password).toBe(NEW_PASSWORD);
    await waitFor(() => expect(screen.getAllByTestId('session-row')).toHaveLength(1));
    const form = screen.getByTestId('password-form');
    expect((form.querySelector('input[name=new_password]') as HTMLInputElement).value).toBe('');
  });
});

describe('Account page: sessions', () => {
  it('lists sessions with when, where from, and which one is this', async () => {
    const server = fakeServer();
    await server.logInElsewhere();
    await accountPage(server);
    await waitFor(() => expect(screen.getAllByTestId('session-row')).toHaveLength(2));

    const [first, second] = screen.getAllByTestId('session-row');
    expect(first.dataset.sessionId).toBe(server.state.sessions[0].session_id);
    expect(within(second).getByTestId('current-session').textContent).toBe('this session');
    expect(within(first).queryByTestId('current-session')).toBeNull();
    expect(second.textContent).toContain('192.0.2.10');
    expect(second.textContent).toContain('Vitest <b>browser</b>');
  });

  it('revokes another session', async () => {
    const server = fakeServer();
    await server.logInElsewhere();
    const { session } = await accountPage(server);
    await waitFor(() => expect(screen.getAllByTestId('session-row')).toHaveLength(2));
    const other = screen.getAllByTestId('session-row')[0];

    fireEvent.click(within(other).getByRole('button', { name: 'Revoke' }));

    await waitFor(() => expect(screen.getAllByTestId('session-row')).toHaveLength(1));
    expect(server.state.sessions).toHaveLength(1);
    expect(session.token()).not.toBeNull();
  });

  it('revoking this session goes back to the login page', async () => {
    const { session } = await accountPage();

    fireEvent.click(within(screen.getByTestId('session-row')).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(session.token()).toBeNull());
    expect(document.querySelector('input[name=email]')).not.toBeNull();
  });

  it('logs out everywhere: every session ends and a reload finds none', async () => {
    const server = fakeServer();
    await server.logInElsewhere();
    const { session, view } = await accountPage(server);

    fireEvent.click(screen.getByTestId('logout-all'));
    await waitFor(() => expect(session.token()).toBeNull());
    expect(server.count('POST /api/auth/logout-all')).toBe(1);
    expect(server.state.sessions).toHaveLength(0);

    view.unmount();
    openApp({ server });
    await waitFor(() => expect(document.querySelector('input[name=email]')).not.toBeNull());
  });
});

describe('Account page: API keys', () => {
  function createKey(values: Record<string, string>, scopes: string[] = []) {
    const form = screen.getByTestId('api-key-form');
    fill(form, values);
    for (const scope of scopes) fireEvent.click(form.querySelector(`input[name=scope][value=${scope}]`)!);
    fireEvent.submit(form);
  }

  it('shows a new key secret once, in a read-only field, and never again after leaving the page', async () => {
    const { server } = await accountPage();

    createKey({ key_name: 'ci', expires_in_days: '30' }, ['operate']);
    const secret = (await screen.findByTestId('api-key-secret')) as HTMLTextAreaElement;
    expect(secret.value).toBe('fv_k1_s3cr3t-value');
    expect(secret.textContent).toBe('fv_k1_s3cr3t-value');
    expect(secret.readOnly).toBe(true);
    expect(screen.getByText(/you will not see it again/)).toBeTruthy();
    const row = screen.getByTestId('api-key-row');
    expect(row.dataset.keyId).toBe('key-1');
    expect(row.textContent).toContain('read, operate');
    expect(row.textContent).not.toContain('s3cr3t');
    expect(server.state.apiKeys[0]).toMatchObject({ name: 'ci', scopes: ['read', 'operate'] });

    goTo('hosts');
    goTo('account');
    await screen.findByTestId('api-key-row');
    expect(screen.queryByTestId('api-key-secret')).toBeNull();
    expect(document.body.textContent).not.toContain('s3cr3t');
  });

  it('hides the secret when the operator is done with it', async () => {
    await accountPage();
    createKey({ key_name: 'ci' });
    await screen.findByTestId('api-key-secret');

    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('api-key-secret')).toBeNull();
  });

  it('wants at least one scope', async () => {
    const { server } = await accountPage();

    createKey({ key_name: 'ci' }, ['read']); // unticks the default
    expect((await screen.findByTestId('form-error')).textContent).toBe('Choose at least one scope.');
    expect(server.count('POST /api/api-keys')).toBe(0);
  });

  it("shows the server's reason for refusing a key", async () => {
    await accountPage();

    createKey({ key_name: '  ' });
    expect((await screen.findByTestId('form-error')).textContent).toBe('name: required.');
    expect(screen.queryByTestId('api-key-secret')).toBeNull();
  });

  it('revokes a key', async () => {
    await accountPage();
    createKey({ key_name: 'ci' });
    const row = await screen.findByTestId('api-key-row');

    fireEvent.click(row.querySelector('button[data-action=revoke]')!);
    await waitFor(() => expect(within(row).getByTestId('api-key-revoked').textContent).toBe('yes'));
    expect((row.querySelector('button[data-action=revoke]') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('Account page: approval of new hosts', () => {
  const box = () => document.querySelector<HTMLInputElement>('input[name=require_host_approval]')!;

  it('shows the saved setting', async () => {
    const server = fakeServer();
    server.state.users[0].require_host_approval = true;
    await accountPage(server);

    await waitFor(() => expect(box().checked).toBe(true));
    expect(box().type).toBe('checkbox');
    expect(box().closest('label')!.textContent).toBe('Require my approval for new hosts');
  });

  it('saves a change with PATCH /api/me and shows it saved', async () => {
    const server = fakeServer();
    await accountPage(server);
    await waitFor(() => expect(box().disabled).toBe(false));
    expect(box().checked).toBe(false);

    fireEvent.click(box());

    expect((await screen.findByTestId('form-success')).textContent).toBe('Saved: new hosts wait for your approval.');
    expect(server.bodiesOf('PATCH /api/me')).toEqual([{ require_host_approval: true }]);
    expect(server.state.users[0].require_host_approval).toBe(true);
    expect(box().checked).toBe(true);

    fireEvent.click(box());
    expect((await screen.findByTestId('form-success')).textContent).toBe('Saved: new hosts join at once.');
    expect(server.state.users[0].require_host_approval).toBe(false);
  });

  it('shows a refused change and the setting the server still has', async () => {
    const server = fakeServer();
    await accountPage(server);
    await waitFor(() => expect(box().disabled).toBe(false));
    server.failNext('PATCH /api/me', 503, 'unavailable', 'The service is busy; try again.');

    fireEvent.click(box());
    expect(box().checked).toBe(true);

    expect((await screen.findByTestId('form-error')).textContent).toBe('The service is busy; try again.');
    expect(box().checked).toBe(false);
    expect(screen.queryByTestId('form-success')).toBeNull();
    expect(server.state.users[0].require_host_approval).toBe(false);
  });
});


describe('Account page: SSH keys', () => {
  it('adds a pasted key and shows its type and fingerprint, then removes it after asking', async () => {
    const { server } = await accountPage();
    const form = screen.getByTestId('ssh-key-form');
    fill(form, { ssh_key_name: 'laptop', public_key: 'ssh-ed25519 AAAAC3Nzaexample me@laptop' });
    fireEvent.submit(form);

    const row = await screen.findByTestId('ssh-key-row');
    expect(row.textContent).toContain('laptop');
    expect(row.textContent).toContain('ssh-ed25519 (256 bits)');
    expect(within(row).getByTestId('ssh-key-fingerprint').textContent).toMatch(/^SHA256:/);

    fireEvent.click(within(row).getByRole('button', { name: 'Remove' }));
    fireEvent.click(within(row).getByRole('button', { name: 'Yes, remove laptop' }));
    await waitFor(() => expect(screen.queryByTestId('ssh-key-row')).toBeNull());
    expect(server.state.sshKeys).toEqual([]);
  });

  it('generates a pair and shows the private half once, to copy or download', async () => {
    await accountPage();
    const form = screen.getByTestId('ssh-key-form');
    fill(form, { ssh_key_name: 'ci' });
    fireEvent.click(within(form).getByRole('button', { name: 'Generate a key pair' }));

    const secret = await screen.findByTestId('ssh-private-key');
    expect(secret.textContent).toContain('BEGIN OPENSSH PRIVATE KEY');
    const link = screen.getByRole('link', { name: 'Download the private key' });
    expect(link.getAttribute('download')).toBe('ci');
    expect(decodeURIComponent(link.getAttribute('href')!)).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(screen.getByTestId('ssh-key-row').textContent).toContain('ci');

    fireEvent.click(within(screen.getByTestId('ssh-key-generated')).getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('ssh-private-key')).toBeNull();
  });
});
