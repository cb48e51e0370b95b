// The enrolment tokens made so far, each with Revoke.

import type { Api } from '../api';
import { formatTime } from '../format';
import { useAction } from '../state/useAction';
import type { Resource } from '../state/useResource';
import type { EnrollmentToken } from '../types';
import { FormError } from './FormError';

interface Props {
  api: Pick<Api, 'revokeEnrollmentToken'>;
  tokens: Resource<EnrollmentToken[]>;
  onRevoked: (token: EnrollmentToken) => void;
}

function TokenRow({ token, busy, onRevoke }: { token: EnrollmentToken; busy: boolean; onRevoke: () => void }) {
  const label = token.note || token.token_id;
  return (
    <tr data-testid="token-row" data-token-id={token.token_id} data-revoked={String(token.revoked)}>
      <th scope="row" class="wrap">
        {token.note || <span class="muted">—</span>}
      </th>
      <td>{formatTime(token.created_ms)}</td>
      <td>{formatTime(token.expires_ms)}</td>
      <td class="num">{token.uses}</td>
      <td class="num" data-testid="token-uses-left">
        {token.uses_left}
      </td>
      <td data-testid="token-revoked">{token.revoked ? 'yes' : 'no'}</td>
      <td>
        <button
          type="button"
          data-action="revoke"
          aria-label={`Revoke token ${label}`}
          disabled={busy || token.revoked}
          onClick={onRevoke}
        >
          Revoke
        </button>
      </td>
    </tr>
  );
}

export function TokenTable({ api, tokens, onRevoked }: Props) {
  const action = useAction();
  const list = tokens.data ?? [];

  function revoke(token: EnrollmentToken) {
    void action.run(async () => onRevoked(await api.revokeEnrollmentToken(token.token_id)));
  }

  return (
    <>
      <FormError message={action.error || tokens.error} testId="action-error" />
      {tokens.data !== null && list.length === 0 && <p class="muted">No enrolment tokens yet.</p>}
      {list.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Note</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col" class="num">
                Uses
              </th>
              <th scope="col" class="num">
                Uses left
              </th>
              <th scope="col">Revoked</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((token) => (
              <TokenRow key={token.token_id} token={token} busy={action.busy} onRevoke={() => revoke(token)} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
