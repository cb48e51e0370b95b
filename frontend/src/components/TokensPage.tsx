// The Enrolment tokens page: make a token for a new host (shown once, with
// the commands that use it), and see or revoke the tokens made before.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { enrollCommand, installCommand } from '../enrollment';
import { formatTime } from '../format';
import { useResource } from '../state/useResource';
import type { EnrollmentToken, NewEnrollmentToken } from '../types';
import { CopyField } from './CopyField';
import { TokenForm } from './TokenForm';
import { TokenTable } from './TokenTable';

interface Props {
  api: Pick<Api, 'listEnrollmentTokens' | 'createEnrollmentToken' | 'revokeEnrollmentToken'>;
  /** This control plane's address, which the agent will talk to. */
  origin: string;
}

function withoutToken({ token: _token, ...rest }: NewEnrollmentToken): EnrollmentToken {
  return rest;
}

function NewToken({ created, origin, onDone }: { created: NewEnrollmentToken; origin: string; onDone: () => void }) {
  const hosts = created.uses_left === 1 ? '1 host' : `${created.uses_left} hosts`;
  return (
    <section class="card once" role="status" aria-labelledby="new-token-title" data-testid="token-created">
      <h2 id="new-token-title">New enrolment token</h2>
      <p>
        <strong>Copy it now: you will not see this token again.</strong> It can enrol {hosts} until{' '}
        {formatTime(created.expires_ms)}.
      </p>
      <CopyField label="Token" value={created.token} testId="enrollment-token" />
      <CopyField
        label="Install and enrol (run on the host)"
        value={installCommand(origin, created.token)}
        testId="install-command"
      />
      <CopyField
        label="The same in a root shell without sudo"
        value={installCommand(origin, created.token, { asRoot: true })}
        testId="install-command-root"
      />
      <CopyField
        label="Or, where the agent is already installed"
        value={enrollCommand(origin, created.token)}
        testId="enroll-command"
      />
      <button type="button" onClick={onDone}>
        Done
      </button>
    </section>
  );
}

export function TokensPage({ api, origin }: Props) {
  const tokens = useResource(api.listEnrollmentTokens);
  const [created, setCreated] = useState<NewEnrollmentToken | null>(null);

  function onCreated(token: NewEnrollmentToken) {
    setCreated(token);
    tokens.update((list) => [withoutToken(token), ...list.filter((t) => t.token_id !== token.token_id)]);
    void tokens.reload(); // the list may have been in flight when the token was made
  }

  function onRevoked(token: EnrollmentToken) {
    tokens.update((list) => list.map((t) => (t.token_id === token.token_id ? token : t)));
  }

  return (
    <main class="layout">
      <h1>Enrolment tokens</h1>
      <p class="muted lead">
        A host's agent enrols once with a token, then signs its own requests with a key that never leaves the host.
        Tokens are stored hashed and expire.
      </p>
      {created && <NewToken created={created} origin={origin} onDone={() => setCreated(null)} />}
      <TokenForm api={api} onCreated={onCreated} />
      <section class="card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">Tokens</h2>
        <TokenTable api={api} tokens={tokens} onRevoked={onRevoked} />
      </section>
    </main>
  );
}
