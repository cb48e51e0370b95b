// Your API keys: the list, a form for a new one, and the new key's secret,
// shown once. The secret lives only in this component's state: leave the
// page and it is gone.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { useResource } from '../state/useResource';
import type { ApiKey, NewApiKey } from '../types';
import { ApiKeyForm } from './ApiKeyForm';
import { ApiKeyTable } from './ApiKeyTable';
import { CopyField } from './CopyField';

interface Props {
  api: Pick<Api, 'listApiKeys' | 'createApiKey' | 'revokeApiKey'>;
}

function withoutSecret({ secret: _secret, ...key }: NewApiKey): ApiKey {
  return key;
}

function NewKeySecret({ created, onDone }: { created: NewApiKey; onDone: () => void }) {
  return (
    <div class="once" role="status" data-testid="api-key-created">
      <p>
        <strong>Copy this key now: you will not see it again.</strong> Fleetvisor keeps only a hash of it. Send it
        as <code>Authorization: Bearer &lt;key&gt;</code>.
      </p>
      <CopyField label={`Secret of “${created.name}”`} value={created.secret} testId="api-key-secret" />
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}

export function ApiKeys({ api }: Props) {
  const keys = useResource(api.listApiKeys);
  const [created, setCreated] = useState<NewApiKey | null>(null);

  function onCreated(key: NewApiKey) {
    setCreated(key);
    keys.update((list) => [withoutSecret(key), ...list.filter((k) => k.key_id !== key.key_id)]);
    void keys.reload(); // the list may have been in flight when the key was made
  }

  function onRevoked(key: ApiKey) {
    keys.update((list) => list.map((k) => (k.key_id === key.key_id ? key : k)));
  }

  return (
    <section class="card" aria-labelledby="api-keys-title">
      <h2 id="api-keys-title">API keys</h2>
      <p class="muted">For scripts and automation. A key never grants more than your own role.</p>
      {created && <NewKeySecret created={created} onDone={() => setCreated(null)} />}
      <ApiKeyForm api={api} onCreated={onCreated} />
      <ApiKeyTable api={api} keys={keys} onRevoked={onRevoked} />
    </section>
  );
}
