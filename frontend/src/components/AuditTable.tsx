// Audit records as a table. Actors and targets show by name where the server
// found one (an account's email, a host's name, "VM on host"), the id itself
// as the cell's title; otherwise as one line of text.

import { formatTime, plainText } from '../format';
import type { AuditRecord } from '../types';
import { TableHead } from './TableHead';

const HEADINGS = ['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Source IP'];

interface Props {
  records: AuditRecord[];
}

function Named({ name, id, testId }: { name: string | null | undefined; id: unknown; testId: string }) {
  const raw = plainText(id);
  return (
    <td class="wrap" data-testid={testId} title={name ? raw : undefined}>
      {name || raw}
    </td>
  );
}

function AuditRow({ record }: { record: AuditRecord }) {
  return (
    <tr data-testid="audit-row" data-action={record.action} data-record-id={record.record_id}>
      <td class="nowrap">{formatTime(record.ts_ms)}</td>
      <Named name={record.actor_name} id={record.actor} testId="audit-actor" />
      <td>
        <code>{record.action}</code>
      </td>
      <Named name={record.target_name} id={record.target} testId="audit-target" />
      <td data-testid="audit-outcome">{record.outcome}</td>
      <td title={record.user_agent ?? undefined}>
        <code>{record.source_ip || '—'}</code>
      </td>
    </tr>
  );
}

export function AuditTable({ records }: Props) {
  if (records.length === 0) return null;
  return (
    <table>
      <TableHead columns={HEADINGS} />
      <tbody>
        {records.map((record) => (
          <AuditRow key={record.record_id} record={record} />
        ))}
      </tbody>
    </table>
  );
}
