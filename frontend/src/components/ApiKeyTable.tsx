// Your API keys, each with Revoke.

import type { Api } from '../api';
import { formatTime } from '../format';
import type { Resource } from '../state/useResource';
import type { ApiKey } from '../types';
import { RevocableTable } from './RevocableTable';

interface Props {
  api: Pick<Api, 'revokeApiKey'>;
  keys: Resource<ApiKey[]>;
  onRevoked: (key: ApiKey) => void;
}

const HEADINGS = ['Name', 'Prefix', 'Scopes', 'Created', 'Expires', 'Last used', 'Revoked'];

export function ApiKeyTable({ api, keys, onRevoked }: Props) {
  return (
    <RevocableTable
      items={keys}
      columns={HEADINGS}
      empty="No API keys yet."
      revoke={async (key) => onRevoked(await api.revokeApiKey(key.key_id))}
      label={(key) => key.name}
      revoked={(key) => key.revoked}
      row={(apiKey, revokeCell) => (
        <tr key={apiKey.key_id} data-testid="api-key-row" data-key-id={apiKey.key_id}
            data-revoked={String(apiKey.revoked)}>
          <th scope="row" class="wrap">
            {apiKey.name}
          </th>
          <td>
            <code>{apiKey.prefix}…</code>
          </td>
          <td>{apiKey.scopes.join(', ')}</td>
          <td>{formatTime(apiKey.created_ms)}</td>
          <td>{formatTime(apiKey.expires_ms, 'never')}</td>
          <td>{formatTime(apiKey.last_used_ms, 'never')}</td>
          <td data-testid="api-key-revoked">{apiKey.revoked ? 'yes' : 'no'}</td>
          {revokeCell}
        </tr>
      )}
    />
  );
}
