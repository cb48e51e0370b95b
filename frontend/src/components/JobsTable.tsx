// The Jobs page's table: one row per job, with Cancel while it can still be
// stopped and Details (times, arguments, the result link) on demand.

import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { exitCodeWords, formatTime } from '../format';
import type { JobsState } from '../state/jobs';
import { isFinal, type Job } from '../types';
import { FormError } from './FormError';
import { jobVm } from './JobList';
import { JobDetail } from './JobDetail';
import { StatusBadge } from './StatusBadge';
import { TableHead } from './TableHead';

const HEADINGS = [
  'Created',
  'Host',
  'VM',
  'Operation',
  'Status',
  { label: 'Attempt', numeric: true },
  { label: 'Exit code', numeric: true },
  'Summary',
];

interface Props {
  api: Pick<Api, 'getJob' | 'getJobResult'>;
  state: JobsState;
  onCancel: (jobId: string) => void;
}

interface RowProps {
  api: Props['api'];
  job: Job;
  hostName: string;
  vmName: string;
  sending: boolean;
  error: string | undefined;
  onCancel: () => void;
}

const COLUMNS = HEADINGS.length + 1; // with the actions column

function JobsRow({ api, job, hostName, vmName, sending, error, onCancel }: RowProps) {
  const [open, setOpen] = useState(false);
  const final = isFinal(job.status);
  const cancelling = job.cancel_requested && !final;
  return (
    <>
      <tr data-testid="jobs-page-row" data-job-id={job.job_id} data-status={job.status}>
        <td class="nowrap">{formatTime(job.created_ms)}</td>
        <td class="host-name">{hostName}</td>
        <td class="vm-name">{vmName}</td>
        <td>
          <code>{job.op}</code>
        </td>
        <td>
          <StatusBadge
            kind="job"
            status={job.status}
            label={cancelling ? 'cancelling…' : undefined}
            testId="job-status"
          />
        </td>
        <td class="num">
          {job.attempt}/{job.max_attempts}
        </td>
        <td class="num nowrap" data-testid="job-exit-code">
          {exitCodeWords(job.exit_code)}
        </td>
        <td class="summary">{job.summary ?? ''}</td>
        <td>
          <div class="actions">
            <button type="button" data-action="details" aria-expanded={open} onClick={() => setOpen(!open)}>
              Details
            </button>
            {!final && (
              <button
                type="button"
                data-action="cancel"
                aria-label={`Cancel job ${job.op} on ${hostName}`}
                disabled={sending || job.cancel_requested}
                onClick={onCancel}
              >
                {sending ? 'Cancelling…' : 'Cancel'}
              </button>
            )}
          </div>
          <FormError message={error ?? ''} testId="action-error" />
        </td>
      </tr>
      {open && (
        <tr class="inline-form-row">
          <td colSpan={COLUMNS}>
            <JobDetail api={api} jobId={job.job_id} />
          </td>
        </tr>
      )}
    </>
  );
}

export function JobsTable({ api, state, onCancel }: Props) {
  if (state.jobs.length === 0) return null;
  const hostNames = new Map(state.agents.map((agent) => [agent.agent_id, agent.name]));
  return (
    <table class="job-table">
      <TableHead columns={HEADINGS} actions />
      <tbody>
        {state.jobs.map((job) => (
          <JobsRow
            key={job.job_id}
            api={api}
            job={job}
            hostName={hostNames.get(job.agent_id) ?? job.agent_id}
            vmName={jobVm(job, state.vmNames)}
            sending={state.cancelling[job.job_id] ?? false}
            error={state.rowErrors[job.job_id]}
            onCancel={() => onCancel(job.job_id)}
          />
        ))}
      </tbody>
    </table>
  );
}
