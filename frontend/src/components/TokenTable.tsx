// The enrolment tokens made so far, each with Revoke.

import type { Api } from '../api';
import { formatTime } from '../format';
import type { Resource } from '../state/useResource';
import type { EnrollmentToken } from '../types';
import { RevocableTable } from './RevocableTable';

interface Props {
  api: Pick<Api, 'revokeEnrollmentToken'>;
  tokens: Resource<EnrollmentToken[]>;
  onRevoked: (token: EnrollmentToken) => void;
}

const HEADINGS = [
  'Note',
  'Created',
  'Expires',
  { label: 'Uses', numeric: true },
  { label: 'Uses left', numeric: true },
  'Revoked',
];

export function TokenTable({ api, tokens, onRevoked }: Props) {
  return (
    <RevocableTable
      items={tokens}
      columns={HEADINGS}
      empty="No enrolment tokens yet."
      revoke={async (token) => onRevoked(await api.revokeEnrollmentToken(token.token_id))}
      label={(token) => `token ${token.note || token.token_id}`}
      revoked={(token) => token.revoked}
      row={(token, revokeCell) => (
        <tr key={token.token_id} data-testid="token-row" data-token-id={token.token_id}
            data-revoked={String(token.revoked)}>
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
          {revokeCell}
        </tr>
      )}
    />
  );
}
