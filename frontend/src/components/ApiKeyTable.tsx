// Your API keys, each with Revoke.

import type { Api } from '../api';
import { formatTime } from '../format';
import { useAction } from '../state/useAction';
import type { Resource } from '../state/useResource';
import type { ApiKey } from '../types';
import { FormError } from './FormError';

interface Props {
  api: Pick<Api, 'revokeApiKey'>;
  keys: Resource<ApiKey[]>;
  onRevoked: (key: ApiKey) => void;
}

function KeyRow({ apiKey, busy, onRevoke }: { apiKey: ApiKey; busy: boolean; onRevoke: () => void }) {
  return (
    <tr data-testid="api-key-row" data-key-id={apiKey.key_id} data-revoked={String(apiKey.revoked)}>
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
      <td>
        <button
          type="button"
          data-action="revoke"
          aria-label={`Revoke ${apiKey.name}`}
          disabled={busy || apiKey.revoked}
          onClick={onRevoke}
        >
          Revoke
        </button>
      </td>
    </tr>
  );
}

export function ApiKeyTable({ api, keys, onRevoked }: Props) {
  const action = useAction();
  const list = keys.data ?? [];

  function revoke(key: ApiKey) {
    void action.run(async () => onRevoked(await api.revokeApiKey(key.key_id)));
  }

  return (
    <>
      <FormError message={action.error || keys.error} testId="action-error" />
      {keys.data !== null && list.length === 0 && <p class="muted">No API keys yet.</p>}
      {list.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Revoked</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((key) => (
              <KeyRow key={key.key_id} apiKey={key} busy={action.busy} onRevoke={() => revoke(key)} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
