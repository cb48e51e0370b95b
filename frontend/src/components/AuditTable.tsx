// Audit records as a table. Actors and targets may be objects; they are shown
// as one line of text.

import { formatTime, plainText } from '../format';
import type { AuditRecord } from '../types';
import { TableHead } from './TableHead';

const HEADINGS = ['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Source IP'];

interface Props {
  records: AuditRecord[];
}

function AuditRow({ record }: { record: AuditRecord }) {
  return (
    <tr data-testid="audit-row" data-action={record.action} data-record-id={record.record_id}>
      <td class="nowrap">{formatTime(record.ts_ms)}</td>
      <td class="wrap">{plainText(record.actor)}</td>
      <td>
        <code>{record.action}</code>
      </td>
      <td class="wrap">{plainText(record.target)}</td>
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
