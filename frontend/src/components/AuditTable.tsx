// Audit records as a table. Actors and targets may be objects; they are shown
// as one line of text.

import { formatTime, plainText } from '../format';
import type { AuditRecord } from '../types';

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
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Outcome</th>
          <th scope="col">Source IP</th>
        </tr>
      </thead>
      <tbody>
        {records.map((record) => (
          <AuditRow key={record.record_id} record={record} />
        ))}
      </tbody>
    </table>
  );
}
