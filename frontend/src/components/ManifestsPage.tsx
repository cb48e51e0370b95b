// Manifests (/manifests): what can be deployed. The caller's own manifests (id, kind, title, version,
// when added) with removal, the built-ins beside them, and a form to add one: its YAML pasted or read
// from a file, checked by the server against the manifest schema (linked for authors). A refusal lists
// every failing path and why beside the text, and nothing is stored; an accepted profile is offered by
// the Deploy page from then on.

import { useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import { formatTime } from '../format';
import { MAX_MANIFEST_BYTES } from '../limits';
import { fileProblem, pathLabel, problemsOf, textProblem, type FieldProblem } from '../manifestText';
import { useAction } from '../state/useAction';
import { useResource } from '../state/useResource';
import { PAGE_PATHS } from '../state/router';
import type { Manifest, OwnManifest } from '../types';
import { AppLink } from './AppLink';
import { ConfirmButton } from './ConfirmButton';
import { FormError } from './FormError';
import { TableHead } from './TableHead';

type ManifestsApi = Pick<Api, 'listManifests' | 'listProfiles' | 'listInstallers' | 'uploadManifest' | 'deleteManifest'>;

interface Props {
  api: ManifestsApi;
  onNavigate: (path: string) => void;
}

export const SCHEMA_URL = '/api/manifest-schema';

interface Catalogue {
  own: OwnManifest[];
  builtins: Manifest[];
}

async function loadCatalogue(api: ManifestsApi): Promise<Catalogue> {
  const [own, profiles, installers] = await Promise.all([api.listManifests(), api.listProfiles(), api.listInstallers()]);
  return { own, builtins: [...profiles, ...installers.installers].filter((one) => one.builtin) };
}

function Problems({ problems }: { problems: FieldProblem[] }) {
  if (problems.length === 0) return null;
  return (
    <div class="manifest-problems" role="alert">
      <p class="error">The server refused the manifest; nothing was stored. Change these and upload again:</p>
      <ul data-testid="manifest-problems">
        {problems.map(({ path, reason }) => (
          <li key={path} data-testid="manifest-problem" data-path={path}>
            <code>{pathLabel(path)}</code> {reason}
          </li>
        ))}
      </ul>
    </div>
  );
}

function UploadForm({ api, onAdded }: { api: ManifestsApi; onAdded: (item: OwnManifest) => void }) {
  const [text, setText] = useState('');
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [added, setAdded] = useState<OwnManifest | null>(null);
  const upload = useAction();

  async function chooseFile(input: HTMLInputElement) {
    const file = input.files?.[0];
    if (!file) return;
    const tooLarge = fileProblem(file);
    if (tooLarge !== null) return upload.setError(tooLarge);
    upload.setError('');
    setText(await file.text());
  }

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    setProblems([]);
    setAdded(null);
    const problem = textProblem(text);
    if (problem !== null) return upload.setError(problem);
    await upload.run(async () => {
      try {
        const item = await api.uploadManifest(text);
        setAdded(item);
        setText('');
        onAdded(item);
      } catch (error) {
        if (error instanceof ApiError && Object.keys(error.fields).length > 0) setProblems(problemsOf(error.fields));
        throw error;
      }
    });
  }

  return (
    <form class="stack" data-testid="manifest-form" onSubmit={submit} noValidate>
      <div class="manifest-editor">
        <label>
          Manifest (YAML)
          <textarea
            name="manifest"
            class="mono"
            rows={16}
            maxLength={MAX_MANIFEST_BYTES}
            spellcheck={false}
            value={text}
            aria-invalid={problems.length > 0}
            onInput={(event) => setText(event.currentTarget.value)}
            placeholder={'kind: profile\nid: my-profile\nversion: 1\ntitle: …'}
          />
        </label>
        <Problems problems={problems} />
      </div>
      <label>
        Or read it from a file
        <input name="manifest_file" type="file" accept=".yaml,.yml,.json,text/yaml,application/json"
          onChange={(event) => void chooseFile(event.currentTarget)} />
      </label>
      {problems.length === 0 && <FormError message={upload.error} testId="manifest-error" />}
      {added && (
        <p class="success" role="status" data-testid="manifest-added">
          Added {added.kind} {added.id} (version {added.version}).
          {added.kind === 'profile' ? ' The Deploy page offers it now.' : ''}
        </p>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={upload.busy}>
          {upload.busy ? 'Uploading…' : 'Upload'}
        </button>
      </div>
    </form>
  );
}

/** What both tables show of a manifest. */
function ManifestCells({ item }: { item: Manifest }) {
  return (
    <>
      <td>
        <code>{item.id}</code>
      </td>
      <td>{item.kind}</td>
      <td>{item.title}</td>
      <td class="num">{item.version}</td>
    </>
  );
}

function OwnTable({ items, busy, onDelete }: { items: OwnManifest[]; busy: boolean; onDelete: (item: OwnManifest) => void }) {
  if (items.length === 0) return <p class="muted">You have added no manifests yet.</p>;
  return (
    <table data-testid="manifest-table">
      <TableHead columns={['ID', 'Kind', 'Title', { label: 'Version', numeric: true }, 'Added']} actions />
      <tbody>
        {items.map((item) => (
          <tr key={item.id} data-testid="manifest-row" data-id={item.id}>
            <ManifestCells item={item} />
            <td>{formatTime(item.created_ms)}</td>
            <td>
              <ConfirmButton
                action="delete-manifest"
                label="Delete"
                ariaLabel={`Delete manifest ${item.id}`}
                confirmLabel={`Yes, delete ${item.id}`}
                question={`Delete ${item.id}? It can no longer be deployed or installed; VMs made from it stay as they are.`}
                onConfirm={() => onDelete(item)}
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

function BuiltinTable({ items }: { items: Manifest[] }) {
  return (
    <table data-testid="builtin-table">
      <TableHead columns={['ID', 'Kind', 'Title', { label: 'Version', numeric: true }]} />
      <tbody>
        {items.map((item) => (
          <tr key={`${item.kind}/${item.id}`} data-testid="builtin-row" data-id={item.id}>
            <ManifestCells item={item} />
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ManifestsPage({ api, onNavigate }: Props) {
  const catalogue = useResource(() => loadCatalogue(api));
  const removing = useAction();
  const byId = (list: OwnManifest[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));

  return (
    <main class="layout">
      <h1>Manifests</h1>
      <p class="muted">
        What the{' '}
        <AppLink href={PAGE_PATHS.deploy} onNavigate={onNavigate} testId="manifests-deploy-link">
          Deploy page
        </AppLink>{' '}
        offers: VM profiles and the installers they may run at first boot. Add your own as YAML, checked against the{' '}
        <a href={SCHEMA_URL} target="_blank" rel="noopener" data-testid="manifest-schema-link">
          manifest schema
        </a>{' '}
        (JSON Schema); the built-ins are a model to start from.
      </p>
      <FormError message={catalogue.error} />
      <section class="card" aria-labelledby="own-manifests">
        <h2 id="own-manifests">Your manifests</h2>
        <FormError message={removing.error} testId="manifest-delete-error" />
        {catalogue.data && (
          <OwnTable
            items={byId(catalogue.data.own)}
            busy={removing.busy}
            onDelete={(item) =>
              void removing.run(async () => {
                await api.deleteManifest(item.id);
                catalogue.update((data) => ({ ...data, own: data.own.filter((one) => one.id !== item.id) }));
              })
            }
          />
        )}
        <h3>Add a manifest</h3>
        <UploadForm
          api={api}
          onAdded={(item) => catalogue.update((data) => ({ ...data, own: [...data.own.filter((one) => one.id !== item.id), item] }))}
        />
      </section>
      <section class="card" aria-labelledby="builtin-manifests">
        <h2 id="builtin-manifests">Built-in</h2>
        {catalogue.loading && !catalogue.data && <p class="muted">Loading…</p>}
        {catalogue.data && <BuiltinTable items={catalogue.data.builtins} />}
      </section>
    </main>
  );
}
