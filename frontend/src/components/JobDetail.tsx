// One job in full, fetched when the operator opens it: its times, arguments
// and a link to its result (GET /api/jobs/{id} answers a short-lived URL).

import type { Api } from '../api';
import { formatBytes, formatTime, plainText } from '../format';
import { useResource } from '../state/useResource';
import type { Job, JobResult } from '../types';

interface Props {
  api: Pick<Api, 'getJob'>;
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

function ResultLink({ result }: { result: JobResult | null }) {
  if (result === null) return <p class="muted">No result was uploaded.</p>;
  const href = webUrl(result.url);
  if (href === null) return <p class="muted">The result ({formatBytes(result.size)}) has no download link.</p>;
  return (
    <p>
      <a href={href} target="_blank" rel="noopener noreferrer" data-testid="job-result-link">
        Open the result ({formatBytes(result.size)})
      </a>{' '}
      <span class="muted">The link works for a few minutes; open the details again for a new one.</span>
    </p>
  );
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
  if (detail.error) {
    return (
      <p class="error" role="alert" data-testid="job-detail-error">
        {detail.error}
      </p>
    );
  }
  if (detail.data === null) return <p class="muted">Loading…</p>;
  return (
    <div class="job-detail" data-testid="job-detail">
      <Facts job={detail.data} />
      <ResultLink result={detail.data.result} />
    </div>
  );
}
