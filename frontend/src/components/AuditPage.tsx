// The Audit page: who did what, when and from where, newest first, with
// filters and "Load more" (the server's `next` cursor).

import { useState } from 'preact/hooks';
import type { Api, AuditFilter } from '../api';
import { usePagedList } from '../state/useResource';
import type { AuditRecord } from '../types';
import { AuditFilters } from './AuditFilters';
import { AuditTable } from './AuditTable';
import { LoadMore } from './LoadMore';

interface Props {
  api: Pick<Api, 'listAudit'>;
  admin?: boolean;
}

const idOf = (record: AuditRecord) => record.record_id;

export function AuditPage({ api, admin = false }: Props) {
  const [filter, setFilter] = useState<AuditFilter>({});
  const records = usePagedList((cursor) => api.listAudit(filter, cursor), idOf, JSON.stringify(filter));

  return (
    <main class="layout">
      <h1>Audit</h1>
      <section class="card" aria-labelledby="audit-title">
        <h2 id="audit-title" class="visually-hidden">
          Audit records
        </h2>
        <AuditFilters onApply={setFilter} admin={admin} />
        {records.error && (
          <p class="error" role="alert" data-testid="action-error">
            {records.error}
          </p>
        )}
        <AuditTable records={records.items} />
        {records.loading && <p class="muted">Loading…</p>}
        {!records.loading && records.items.length === 0 && !records.error && (
          <p class="muted">No audit records match.</p>
        )}
        <LoadMore list={records} testId="audit-more" />
      </section>
    </main>
  );
}
