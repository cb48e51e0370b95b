// Your SSH public keys (for deployments' ssh-key inputs): the list with each key's type and
// fingerprint, a form to paste one, a button to have one generated, and removal. A generated key's
// private half is shown once, to copy or download; it lives only in this component's state and the
// server keeps only the public half.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { fieldValue } from '../forms';
import { useAction } from '../state/useAction';
import { useResource } from '../state/useResource';
import type { NewSshKey, SshKey } from '../types';
import { ConfirmButton } from './ConfirmButton';
import { CopyField } from './CopyField';
import { FormError } from './FormError';
import { MAX_PUBLIC_KEY, MAX_SSH_KEY_NAME } from '../limits';

type KeysApi = Pick<Api, 'listSshKeys' | 'addSshKey' | 'generateSshKey' | 'removeSshKey'>;

function withoutPrivate({ private_key: _private, ...key }: NewSshKey): SshKey {
  return key;
}

/** The private key as a file to save (a data: URL: nothing leaves the page). */
function downloadHref(privateKey: string): string {
  return `data:application/octet-stream;charset=utf-8,${encodeURIComponent(privateKey)}`;
}

function PrivateKey({ created, onDone }: { created: NewSshKey; onDone: () => void }) {
  return (
    <div class="once" role="status" data-testid="ssh-key-generated">
      <p>
        <strong>Save this private key now: you will not see it again.</strong> Fleetvisor keeps only the public
        half. Keep the file readable by you alone (<code>chmod 600</code>).
      </p>
      <CopyField label={`Private key of “${created.name}”`} value={created.private_key} testId="ssh-private-key" />
      <p>
        <a href={downloadHref(created.private_key)} download={`${created.name || 'id_ed25519'}`}>
          Download the private key
        </a>
      </p>
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}

function KeyTable({ keys, onRemove, busy }: { keys: SshKey[]; onRemove: (key: SshKey) => void; busy: boolean }) {
  if (keys.length === 0) return <p class="muted">No SSH keys yet.</p>;
  return (
    <table data-testid="ssh-key-table">
      <thead>
        <tr>
          <th>Name</th>
          <th>Type</th>
          <th>Fingerprint</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.key_id} data-testid="ssh-key-row">
            <td>{key.name}</td>
            <td>
              {key.type} ({key.bits} bits)
            </td>
            <td>
              <code data-testid="ssh-key-fingerprint">{key.fingerprint}</code>
            </td>
            <td>
              <ConfirmButton
                label="Remove"
                confirmLabel={`Yes, remove ${key.name}`}
                question={`Deployments will no longer be able to use “${key.name}”. VMs that have it keep it.`}
                onConfirm={() => onRemove(key)}
                disabled={busy}
                danger
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SshKeys({ api }: { api: KeysApi }) {
  const keys = useResource(api.listSshKeys);
  const [generated, setGenerated] = useState<NewSshKey | null>(null);
  const adding = useAction();
  const removing = useAction();

  function added(key: SshKey) {
    keys.update((list) => [...list.filter((k) => k.key_id !== key.key_id), key]);
  }

  async function add(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const name = fieldValue(form, 'ssh_key_name').trim();
    const publicKey = fieldValue(form, 'public_key').trim();
    if (publicKey === '') return adding.setError('Paste a public key, or generate one.');
    await adding.run(async () => {
      added(await api.addSshKey(name, publicKey));
      form.reset();
    });
  }

  async function generate(form: HTMLFormElement | null) {
    const name = form ? fieldValue(form, 'ssh_key_name').trim() : '';
    await adding.run(async () => {
      const key = await api.generateSshKey(name);
      setGenerated(key);
      added(withoutPrivate(key));
      form?.reset();
    });
  }

  return (
    <section class="card" aria-labelledby="ssh-keys-title">
      <h2 id="ssh-keys-title">SSH keys</h2>
      <p class="muted">Public keys a deployed VM can let in (a deployment's “SSH public keys”).</p>
      {generated && <PrivateKey created={generated} onDone={() => setGenerated(null)} />}
      <form class="stack" data-testid="ssh-key-form" onSubmit={add} noValidate>
        <label>
          Name
          <input name="ssh_key_name" type="text" autocomplete="off" maxLength={MAX_SSH_KEY_NAME} />
        </label>
        <label>
          Public key (OpenSSH: Ed25519, RSA of 2048 bits or more, ECDSA)
          <textarea
            name="public_key"
            class="mono"
            rows={3}
            maxLength={MAX_PUBLIC_KEY}
            spellcheck={false}
            placeholder="ssh-ed25519 AAAA… you@host"
          />
        </label>
        <FormError message={adding.error} testId="ssh-key-error" />
        <div class="row">
          <button type="submit" class="primary" disabled={adding.busy}>
            Add key
          </button>
          <button
            type="button"
            disabled={adding.busy}
            onClick={(event) => void generate(event.currentTarget.form)}
          >
            Generate a key pair
          </button>
        </div>
      </form>
      <FormError message={keys.error || removing.error} />
      {keys.data && (
        <KeyTable
          keys={keys.data}
          busy={removing.busy}
          onRemove={(key) =>
            void removing.run(async () => {
              await api.removeSshKey(key.key_id);
              keys.update((list) => list.filter((k) => k.key_id !== key.key_id));
            })
          }
        />
      )}
    </section>
  );
}
