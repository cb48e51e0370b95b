// The "Recent jobs" panel: what was asked of the hosts and how it went.

import { formatAgo } from '../format';
import type { Job } from '../types';
import { StatusBadge } from './StatusBadge';
import { TableHead } from './TableHead';

const HEADINGS = [
  'Operation',
  'VM',
  'Status',
  { label: 'Attempt', numeric: true },
  { label: 'Exit code', numeric: true },
  'Summary',
  'Created',
];

interface Props {
  jobs: Job[];
  /** VM names by UUID, from the hosts' VM lists. */
  vmNames: ReadonlyMap<string, string>;
  error: string;
  now: number;
}

/** The VM a job acts on: its name where known, else its UUID ('—' for none). */
export function jobVm(job: Job, vmNames: ReadonlyMap<string, string>): string {
  const uuid = job.vm_uuid ?? (typeof job.args.vm_uuid === 'string' ? job.args.vm_uuid : null);
  if (uuid === null) return '—';
  return vmNames.get(uuid) ?? uuid;
}

function JobRow({ job, vmNames, now }: { job: Job; vmNames: Props['vmNames']; now: number }) {
  return (
    <tr data-testid="job-row" data-job-id={job.job_id}>
      <td>
        <code>{job.op}</code>
      </td>
      <td class="vm-name">{jobVm(job, vmNames)}</td>
      <td>
        <StatusBadge kind="job" status={job.status} testId="job-status" />
      </td>
      <td class="num">{job.attempt}</td>
      <td class="num">{job.exit_code ?? '—'}</td>
      <td class="summary">{job.summary ?? ''}</td>
      <td class="muted">{formatAgo(job.created_ms, now)}</td>
    </tr>
  );
}

export function JobList({ jobs, vmNames, error, now }: Props) {
  return (
    <section class="card jobs" aria-labelledby="jobs-title">
      <h2 id="jobs-title">Recent jobs</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {jobs.length === 0 ? (
        <p class="muted">No jobs yet.</p>
      ) : (
        <table class="job-table">
          <TableHead columns={HEADINGS} />
          <tbody>
            {jobs.map((job) => (
              <JobRow key={job.job_id} job={job} vmNames={vmNames} now={now} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
