import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fill, goTo, loggedInApp, ORIGIN } from '../test/renderApp';

async function tokensPage() {
  const opened = await loggedInApp();
  goTo('tokens');
  await screen.findByTestId('token-form');
  return opened;
}

function createToken(values: Record<string, string>) {
  const form = screen.getByTestId('token-form');
  fill(form, values);
  fireEvent.submit(form);
}

describe('Enrolment tokens page', () => {
  it('creates a token and shows it once with the install and enrol commands', async () => {
    const { server } = await tokensPage();

    createToken({ uses: '3', ttl_seconds: '86400', note: 'rack 3' });
    const token = (await screen.findByTestId('enrollment-token')) as HTMLTextAreaElement;

    expect(token.value).toBe('fvet_1AbC-dEf');
    expect(screen.getByTestId('install-command').textContent).toBe(
      `curl -fsSL ${ORIGIN}/agent/install.sh | sudo bash -s -- --token fvet_1AbC-dEf`,
    );
    expect(screen.getByTestId('install-command-root').textContent).toBe(
      `curl -fsSL ${ORIGIN}/agent/install.sh | bash -s -- --token fvet_1AbC-dEf`,
    );
    expect(screen.getByTestId('token-created').textContent).toContain('It can enrol 3 hosts until');
    expect(screen.getByTestId('enroll-command').textContent).toBe(
      `fleetvisor-agent enroll --url ${ORIGIN} --token fvet_1AbC-dEf`,
    );
    expect(screen.getByText(/you will not see this token again/)).toBeTruthy();
    expect(server.state.enrollmentTokens[0]).toMatchObject({ uses: 0, uses_left: 3, note: 'rack 3', expires_ms: 1_700_086_400_000 });

    const row = await screen.findByTestId('token-row');
    expect(row.dataset.tokenId).toBe('et-1');
    expect(within(row).getByTestId('token-uses-left').textContent).toBe('3');
    expect(within(row).getByTestId('token-revoked').textContent).toBe('no');
    expect(row.textContent).not.toContain('fvet_');
  });

  it('sends one use and one hour unless told otherwise', async () => {
    const { server } = await tokensPage();

    createToken({});
    await screen.findByTestId('enrollment-token');
    expect(server.state.enrollmentTokens[0]).toMatchObject({ uses_left: 1, expires_ms: 1_700_003_600_000, note: '' });
  });

  it('forgets the token when the operator leaves the page', async () => {
    await tokensPage();
    createToken({});
    await screen.findByTestId('enrollment-token');

    goTo('hosts');
    goTo('tokens');
    await screen.findByTestId('token-row');
    expect(screen.queryByTestId('enrollment-token')).toBeNull();
    expect(document.body.textContent).not.toContain('fvet_');
  });

  it("shows the server's reason for refusing a token", async () => {
    await tokensPage();

    createToken({ uses: '0' });
    expect((await screen.findByTestId('form-error')).textContent).toBe('uses: 1..100.');
  });

  it('revokes a token', async () => {
    await tokensPage();
    createToken({ note: '<script>alert(1)</script>' });
    const row = await screen.findByTestId('token-row');
    expect(row.querySelector('th')!.textContent).toBe('<script>alert(1)</script>');

    fireEvent.click(row.querySelector('button[data-action=revoke]')!);
    await waitFor(() => expect(within(row).getByTestId('token-revoked').textContent).toBe('yes'));
  });
});
