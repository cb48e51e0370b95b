// One job in full, fetched when the operator opens it: its times, arguments
// and its result, read through the API and shown here (what it read, pretty
// printed as text), with a short-lived JSON download link beside it. A result
// no longer stored says so in words.

import type { Api } from '../api';
import { formatBytes, formatDuration, formatTime, plainText } from '../format';
import { useResource } from '../state/useResource';
import type { Job, JobResult } from '../types';
import { FormError } from './FormError';

interface Props {
  api: Pick<Api, 'getJob' | 'getJobResult'>;
  jobId: string;
}

/** The link only if it is a web address: a `javascript:` URL must never become a link. */
export function webUrl(text: string | undefined): string | null {
  if (!text) return null;
  try {
    const url = new URL(text, window.location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/** What the job's result says, read through the API (GET /api/jobs/{id}/result) and shown in the page. */
function StoredResult({ api, jobId, result }: { api: Props['api']; jobId: string; result: JobResult }) {
  const document = useResource(() => api.getJobResult(jobId));
  if (document.error) {
    return (
      <p class="notice warning" role="status" data-testid="job-result-gone">
        {document.error}
      </p>
    );
  }
  if (document.data === null) return <p class="muted">Reading the result…</p>;
  const { ok, error, vm, duration_ms: ms, data } = document.data;
  const outcome = ok ? 'Succeeded' : `Failed: ${error ? `${error.message} (${error.code})` : 'no reason given'}`;
  const href = webUrl(result.url);
  return (
    <div class="job-result" data-testid="job-result">
      <p data-testid="job-result-outcome">
        {outcome}
        {typeof ms === 'number' && ` in ${formatDuration(ms / 1000)}`}
        {vm && `; VM ${vm.name} is now ${vm.state}`}.
      </p>
      {data !== undefined && data !== null && (
        <pre class="result-data" data-testid="job-result-data">
          {JSON.stringify(data, null, 2)}
        </pre>
      )}
      {href && (
        <p>
          <a href={href} rel="noopener noreferrer" data-testid="job-result-link">
            Download it as JSON ({formatBytes(result.size)})
          </a>{' '}
          <span class="muted">The link works for a few minutes; open the details again for a new one.</span>
        </p>
      )}
    </div>
  );
}

function ResultView({ api, jobId, result }: { api: Props['api']; jobId: string; result: JobResult | null }) {
  if (result === null) return <p class="muted">No result was uploaded.</p>;
  return <StoredResult api={api} jobId={jobId} result={result} />;
}

function Facts({ job }: { job: Job }) {
  const facts: Array<[string, string]> = [
    ['Job', job.job_id],
    ['Claimed', formatTime(job.claimed_ms, '—')],
    ['Started', formatTime(job.started_ms, '—')],
    ['Finished', formatTime(job.finished_ms, '—')],
    ['Arguments', plainText(job.args)],
  ];
  return (
    <dl class="facts">
      {facts.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd class="wrap">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function JobDetail({ api, jobId }: Props) {
  const detail = useResource(() => api.getJob(jobId));
  if (detail.error) return <FormError message={detail.error} testId="job-detail-error" />;
  if (detail.data === null) return <p class="muted">Loading…</p>;
  return (
    <div class="job-detail" data-testid="job-detail">
      <Facts job={detail.data} />
      <ResultView api={api} jobId={jobId} result={detail.data.result} />
    </div>
  );
}
