// The API reference: every operation of the operator API, rendered from the
// control plane's own OpenAPI document (apiReference.ts), searchable, each
// with its fields in words and a curl command to start from.

import { useMemo, useState } from 'preact/hooks';
import type { Api } from '../api';
import { curlFor, matches, operationsOf, type Field, type Operation } from '../apiReference';
import { useResource } from '../state/useResource';
import { CopyField } from './CopyField';

interface Props {
  api: Pick<Api, 'openApi'>;
  origin: string;
}

function Fields({ title, fields }: { title: string; fields: Field[] }) {
  if (fields.length === 0) return null;
  return (
    <>
      <h4>{title}</h4>
      <dl class="api-fields">
        {fields.map((field) => (
          <div key={field.name}>
            <dt>
              <code>{field.name}</code>
              {field.required ? '' : ' (optional)'}
            </dt>
            <dd>{field.form}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}

function OperationEntry({ op, origin }: { op: Operation; origin: string }) {
  const id = `${op.method} ${op.path}`;
  return (
    <details class="api-op" data-testid="api-operation" data-op={id}>
      <summary>
        <span class={`api-method api-${op.method.toLowerCase()}`}>{op.method}</span> <code>{op.path}</code>{' '}
        <span class="muted">{op.summary}</span>
      </summary>
      <p>
        {op.needsLogin ? 'Needs a session or an API key (Authorization: Bearer).' : 'Public: no login needed.'}{' '}
        Answers {op.success.join(', ')} on success
        {op.errors.length > 0 ? `; ${op.errors.join(', ')} with the JSON error shape.` : '.'}
      </p>
      <Fields title="Path" fields={op.pathParameters} />
      <Fields title="Body (JSON)" fields={op.body} />
      <CopyField label="Example" value={curlFor(op, origin)} testId={`curl-${op.method}-${op.path}`} />
    </details>
  );
}

export function ApiReferencePage({ api, origin }: Props) {
  const doc = useResource(api.openApi);
  const [query, setQuery] = useState('');
  const operations = useMemo(() => (doc.data ? operationsOf(doc.data) : []), [doc.data]);
  const shown = operations.filter((op) => matches(op, query));
  const groups = [...new Set(shown.map((op) => op.group))];

  return (
    <main class="layout">
      <h1>API reference</h1>
      <section class="card">
        <p>
          Everything the web app does goes through this API; scripts can do the same with an API key (Account →
          API keys) or the <code>fleetvisor</code> command line. Errors are{' '}
          <code>{'{"error": {"code": …, "message": …}}'}</code> with a stable code. The machine-readable document is{' '}
          <a href="/api/openapi.json">/api/openapi.json</a>.
        </p>
        <label>
          Search
          <input
            type="search"
            value={query}
            maxLength={200}
            placeholder="e.g. snapshot, delete agents"
            data-testid="api-search"
            onInput={(event) => setQuery(event.currentTarget.value)}
          />
        </label>
        {doc.error && (
          <p class="error" role="alert">
            {doc.error}
          </p>
        )}
        {doc.loading && <p class="muted">Loading…</p>}
        {!doc.loading && shown.length === 0 && !doc.error && <p class="muted">No operation matches.</p>}
        {groups.map((group) => (
          <section key={group} aria-label={group}>
            <h2 class="api-group">{group}</h2>
            {shown
              .filter((op) => op.group === group)
              .map((op) => (
                <OperationEntry key={`${op.method} ${op.path}`} op={op} origin={origin} />
              ))}
          </section>
        ))}
      </section>
    </main>
  );
}
