// The Jobs page: every job of the operator's hosts, newest first, filtered by
// host and status, live while any is under way, each cancellable until final.

import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import { createJobsStore, type JobsOptions } from '../state/jobs';
import { useStore } from '../state/useStore';
import { FormError } from './FormError';
import { JobFilters } from './JobFilters';
import { JobsTable } from './JobsTable';

interface Props {
  api: Pick<Api, 'listJobs' | 'getJob' | 'getJobResult' | 'cancelJob' | 'listAgents' | 'listVms'>;
  options?: JobsOptions;
}

export function JobsPage({ api, options }: Props) {
  const [store] = useState(() => createJobsStore(api, options));
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  const jobs = useStore(store, store.getState);

  return (
    <main class="layout">
      <h1>Jobs</h1>
      <section class="card" aria-labelledby="jobs-page-title">
        <h2 id="jobs-page-title" class="visually-hidden">
          Jobs
        </h2>
        <JobFilters agents={jobs.agents} filter={jobs.filter} onChange={store.setFilter} />
        <FormError message={jobs.agentsError} testId="hosts-error" />
        <FormError message={jobs.error} testId="jobs-error" />
        <JobsTable api={api} state={jobs} onCancel={(jobId) => void store.cancel(jobId)} />
        {!jobs.loaded && <p class="muted">Loading jobs…</p>}
        {jobs.loaded && jobs.jobs.length === 0 && !jobs.error && <p class="muted">No jobs match.</p>}
      </section>
    </main>
  );
}
