// The live summary of a bulk run: n succeeded, n failed, n running, n
// waiting, and each VM with its job (its details and result link on demand).
// Failures come first; a big run lists its first SHOWN VMs.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { countsOf, isDone, type BulkItem, type BulkRun } from '../state/bulkRun';
import { JobDetail } from './JobDetail';
import { StatusBadge } from './StatusBadge';

const SHOWN = 100;
const ORDER: Record<BulkItem['status'], number> = { failed: 0, running: 1, sending: 2, waiting: 3, succeeded: 4, skipped: 5 };

/** The job status whose tint each outcome borrows. */
const BADGE: Record<BulkItem['status'], string> = {
  waiting: 'queued',
  sending: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  skipped: 'cancelled',
};

interface Props {
  api: Pick<Api, 'getJob' | 'getJobResult'>;
  run: BulkRun;
  onDismiss: () => void;
}

function ItemRow({ api, item }: { api: Pick<Api, 'getJob' | 'getJobResult'>; item: BulkItem }) {
  const [open, setOpen] = useState(false);
  const { job } = item;
  return (
    <li data-testid="bulk-item" data-vm-name={item.vm.name} data-status={item.status}>
      <strong class="vm-name">{item.vm.name}</strong> <span class="muted">on {item.vm.host_name}</span>{' '}
      <StatusBadge kind="job" status={BADGE[item.status]} label={item.status} />
      {job && (
        <>
          {' '}
          <button
            type="button"
            class="link-button"
            data-action="job"
            data-job-id={job.job_id}
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            job <code>{job.job_id.slice(0, 12)}</code>
          </button>
        </>
      )}
      {item.error && (
        <span class={item.status === 'skipped' ? 'muted' : 'error'} data-testid="bulk-error">
          {' '}
          {item.error}
        </span>
      )}
      {open && job && <JobDetail api={api} jobId={job.job_id} />}
    </li>
  );
}

export function BulkSummary({ api, run, onDismiss }: Props) {
  const counts = countsOf(run);
  const done = isDone(run);
  const items = [...run.items].sort((a, b) => ORDER[a.status] - ORDER[b.status]).slice(0, SHOWN);
  return (
    <section class="card bulk-summary" data-testid="bulk-run" data-done={done} aria-label={`${run.title}: progress`}>
      <div class="host-header">
        <h2>{run.title}</h2>
        <p class="lead" data-testid="bulk-counts" role="status">
          {counts.succeeded} succeeded, {counts.failed} failed, {counts.running} running
          {counts.waiting > 0 ? `, ${counts.waiting} waiting` : ''}
          {counts.skipped > 0 ? `, ${counts.skipped} skipped` : ''}
        </p>
        {done && (
          <button type="button" class="link-button" data-action="dismiss" onClick={onDismiss}>
            Dismiss
          </button>
        )}
      </div>
      <details open={counts.failed > 0 || run.items.length <= 10}>
        <summary>VMs and their jobs</summary>
        <ul class="bulk-items">
          {items.map((item) => (
            <ItemRow key={item.key} api={api} item={item} />
          ))}
        </ul>
        {run.items.length > SHOWN && <p class="muted">and {(run.items.length - SHOWN).toLocaleString()} more.</p>}
      </details>
    </section>
  );
}
