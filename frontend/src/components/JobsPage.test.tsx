import { fireEvent, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer, type FakeServer } from '../test/fakeServer';
import { aJob, anAgent } from '../test/fixtures';
import { fill, goTo, loggedInApp } from '../test/renderApp';
import type { Job } from '../types';
import type { JobsOptions } from '../state/jobs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server with hv1 (VM web1) and hv2, and these jobs, newest first. */
function serverWith(...jobs: Job[]): FakeServer {
  const server = fakeServer();
  server.state.agents.push(anAgent({ agent_id: 'agt-2', name: 'hv2' }));
  server.state.jobs = jobs;
  return server;
}

async function jobsPage(server: FakeServer, jobsOptions: JobsOptions = {}) {
  const opened = await loggedInApp({ server, jobsOptions });
  goTo('jobs');
  if (server.state.jobs.length > 0) await screen.findAllByTestId('jobs-page-row');
  return opened;
}

function row(jobId: string): HTMLElement {
  const found = document.querySelector<HTMLElement>(`[data-testid=jobs-page-row][data-job-id="${jobId}"]`);
  if (!found) throw new Error(`no row for ${jobId}`);
  return found;
}

const statusOf = (jobId: string) => within(row(jobId)).getByTestId('job-status').textContent;
const cancelButton = (jobId: string) => row(jobId).querySelector<HTMLButtonElement>('button[data-action=cancel]');
/** The Jobs page's list requests (the Hosts page shown first asks for 20). */
const jobLists = (server: FakeServer) => server.state.requests.filter((r) => r.startsWith('GET /api/jobs?limit=50'));

describe('Jobs page: the list', () => {
  it('lists the jobs with host, VM, operation, status, attempts, exit code and summary', async () => {
    const server = serverWith(
      aJob({
        job_id: 'job-2',
        agent_id: 'agt-2',
        op: 'host.capabilities',
        vm_uuid: null,
        args: {},
        status: 'failed',
        attempt: 3,
        exit_code: 2,
        summary: 'libvirt <b>down</b>',
      }),
      aJob({ job_id: 'job-1', status: 'succeeded', attempt: 1, exit_code: 0, summary: 'started' }),
    );
    await jobsPage(server);

    expect(window.location.pathname).toBe('/jobs');
    expect(jobLists(server)[0]).toBe('GET /api/jobs?limit=50');
    expect(screen.getAllByTestId('jobs-page-row').map((r) => r.dataset.jobId)).toEqual(['job-2', 'job-1']);
    const failed = row('job-2');
    expect(failed.dataset.status).toBe('failed');
    expect(statusOf('job-2')).toBe('failed');
    expect(failed.textContent).toContain('hv2');
    expect(failed.textContent).toContain('host.capabilities');
    expect(failed.textContent).toContain('3/3');
    expect(within(failed).getByTestId('job-exit-code').textContent).toBe('2 · transient failure');
    expect(within(failed).getByText('libvirt <b>down</b>')).toBeTruthy();
    expect(failed.querySelector('b')).toBeNull();
    await waitFor(() => expect(row('job-1').textContent).toContain('web1'));
    expect(row('job-1').textContent).toContain('hv1');
    expect(within(row('job-1')).getByTestId('job-exit-code').textContent).toBe('0 · succeeded');
    expect(cancelButton('job-1')).toBeNull(); // final jobs cannot be cancelled
  });

  it('filters by host and status, sending them in the query', async () => {
    const server = serverWith(
      aJob({ job_id: 'job-3', agent_id: 'agt-2', status: 'failed', attempt: 1 }),
      aJob({ job_id: 'job-2', agent_id: 'agt-1', status: 'failed', attempt: 1 }),
      aJob({ job_id: 'job-1', agent_id: 'agt-1', status: 'succeeded', attempt: 1 }),
    );
    await jobsPage(server);
    const filters = screen.getByTestId('job-filters');
    await waitFor(() => expect(filters.querySelectorAll('select[name=job_host] option')).toHaveLength(3));

    fill(filters, { job_host: 'agt-1' });
    await waitFor(() => expect(screen.getAllByTestId('jobs-page-row')).toHaveLength(2));
    expect(server.state.requests).toContain('GET /api/jobs?limit=50&agent_id=agt-1');

    fill(filters, { job_status: 'failed' });
    await waitFor(() => expect(screen.getAllByTestId('jobs-page-row')).toHaveLength(1));
    expect(server.state.requests).toContain('GET /api/jobs?limit=50&agent_id=agt-1&status=failed');
    expect(row('job-2').dataset.status).toBe('failed');

    fill(filters, { job_host: '' });
    await waitFor(() => expect(screen.getAllByTestId('jobs-page-row')).toHaveLength(2));
    expect(jobLists(server).at(-1)).toBe('GET /api/jobs?limit=50&status=failed');
  });

  it('says so when no job matches', async () => {
    await jobsPage(serverWith());
    expect(await screen.findByText('No jobs match.')).toBeTruthy();
  });

  it('polls faster while a job is live than once all are final', async () => {
    const server = serverWith(aJob({ status: 'running', attempt: 1 }));
    await jobsPage(server, { liveMs: 40, idleMs: 5000 });

    let before = jobLists(server).length;
    await sleep(300);
    expect(jobLists(server).length - before).toBeGreaterThanOrEqual(3);

    server.state.jobs = [aJob({ status: 'succeeded', attempt: 1, exit_code: 0 })];
    await waitFor(() => expect(statusOf('job-1')).toBe('succeeded'));
    before = jobLists(server).length;
    await sleep(300);
    expect(jobLists(server).length - before).toBe(0);
  });
});

describe('Jobs page: cancel', () => {
  it('shows a running job as cancelling… until it is final, then its final status', async () => {
    const server = serverWith(aJob({ status: 'running', attempt: 1 }));
    await jobsPage(server, { liveMs: 40 });

    fireEvent.click(cancelButton('job-1')!);

    await waitFor(() => expect(statusOf('job-1')).toBe('cancelling…'));
    expect(server.count('POST /api/jobs/job-1/cancel')).toBe(1);
    expect(row('job-1').dataset.status).toBe('running');
    expect(cancelButton('job-1')!.disabled).toBe(true);
    await sleep(100); // the list keeps saying running, cancel requested
    expect(statusOf('job-1')).toBe('cancelling…');

    server.state.jobs[0] = { ...server.state.jobs[0], status: 'cancelled', final: true, summary: 'Cancelled.' };
    await waitFor(() => expect(statusOf('job-1')).toBe('cancelled'));
    expect(row('job-1').dataset.status).toBe('cancelled');
    expect(cancelButton('job-1')).toBeNull();
  });

  it('cancels a queued job at once', async () => {
    const server = serverWith(aJob({ status: 'queued' }));
    await jobsPage(server, { liveMs: 5000 });

    fireEvent.click(cancelButton('job-1')!);

    await waitFor(() => expect(statusOf('job-1')).toBe('cancelled'));
  });

  it('shows a job that ended meanwhile (409 job_final) as an error on its row, then its final status', async () => {
    const server = serverWith(
      aJob({ status: 'running', attempt: 1 }),
      aJob({ job_id: 'job-0', status: 'running', attempt: 1 }),
    );
    await jobsPage(server, { liveMs: 60_000 });
    server.state.jobs[0] = { ...server.state.jobs[0], status: 'succeeded', final: true, exit_code: 0 };

    fireEvent.click(cancelButton('job-1')!);

    const error = await within(row('job-1')).findByTestId('action-error');
    expect(error.textContent).toBe('The job has already ended (succeeded).');
    await waitFor(() => expect(statusOf('job-1')).toBe('succeeded'));
    expect(within(row('job-0')).queryByTestId('action-error')).toBeNull();
  });
});

describe('Jobs page: details', () => {
  it('shows the result in the page, readable, with a JSON download beside it', async () => {
    const server = serverWith(
      aJob({ status: 'succeeded', attempt: 1, exit_code: 0, op: 'vm.snapshot_list', result: { size: 1536, etag: '"e1"' } }),
    );
    server.state.results.set('job-1', {
      job_id: 'job-1', attempt: 1, op: 'vm.snapshot_list', ok: true, duration_ms: 2500,
      vm: { uuid: 'u', name: 'web1', state: 'running' }, error: null,
      data: { snapshots: [{ name: 'pre-patch', description: '<b>x</b>' }] },
    });
    await jobsPage(server);
    expect(server.count('GET /api/jobs/job-1')).toBe(0);

    fireEvent.click(row('job-1').querySelector('button[data-action=details]')!);

    const shown = await screen.findByTestId('job-result');
    expect(within(shown).getByTestId('job-result-outcome').textContent).toBe(
      'Succeeded in 2s; VM web1 is now running.',
    );
    const data = within(shown).getByTestId('job-result-data').textContent!;
    expect(JSON.parse(data)).toEqual({ snapshots: [{ name: 'pre-patch', description: '<b>x</b>' }] });
    expect(data).toContain('\n    ');  // pretty printed, as text (no markup made of it)
    expect(shown.querySelector('b')).toBeNull();
    const link = within(shown).getByTestId('job-result-link') as HTMLAnchorElement;
    expect(link.href).toBe('https://results.example.test/r/job-1?sig=abc');
    expect(link.rel).toBe('noopener noreferrer');
    expect(link.textContent).toContain('1.5 KiB');
    expect(server.count('GET /api/jobs/job-1')).toBe(1);
    expect(server.count('GET /api/jobs/job-1/result')).toBe(1);
  });

  it('shows a failed result with its reason', async () => {
    const server = serverWith(aJob({ status: 'failed', attempt: 1, exit_code: 1, result: { size: 10, etag: 'x' } }));
    server.state.results.set('job-1', {
      job_id: 'job-1', attempt: 1, op: 'vm.start', ok: false, duration_ms: 40, vm: null,
      error: { code: 'invalid_state', message: "VM 'web1' is already running." },
    });
    await jobsPage(server);
    fireEvent.click(row('job-1').querySelector('button[data-action=details]')!);

    expect((await screen.findByTestId('job-result-outcome')).textContent).toBe(
      "Failed: VM 'web1' is already running. (invalid_state) in 0s.",
    );
    expect(screen.queryByTestId('job-result-data')).toBeNull();
  });

  it('says so, in words, when the result is no longer stored', async () => {
    const server = serverWith(aJob({ status: 'succeeded', attempt: 1, result: { size: 10, etag: 'x' } }));
    const gone = "This job's result is no longer stored: results are kept 30 days.";
    server.failNext('GET /api/jobs/job-1/result', 404, 'result_not_found', gone);
    await jobsPage(server);
    fireEvent.click(row('job-1').querySelector('button[data-action=details]')!);

    expect((await screen.findByTestId('job-result-gone')).textContent).toBe(gone);
    expect(screen.queryByTestId('job-result-link')).toBeNull();
  });

  it('says when there is no result', async () => {
    await jobsPage(serverWith(aJob({ status: 'failed', attempt: 1, exit_code: 1 })));

    fireEvent.click(row('job-1').querySelector('button[data-action=details]')!);

    expect(await screen.findByText('No result was uploaded.')).toBeTruthy();
    expect(screen.queryByTestId('job-result-link')).toBeNull();
  });

  it('never turns a result URL that is not a web address into a link', async () => {
    const server = serverWith(aJob({ status: 'succeeded', attempt: 1, result: { size: 10, etag: 'x' } }));
    server.state.resultBase = 'javascript:alert(1)//';
    server.state.results.set('job-1', { job_id: 'job-1', attempt: 1, op: 'vm.start', ok: true, duration_ms: 1, vm: null, error: null });
    await jobsPage(server);

    fireEvent.click(row('job-1').querySelector('button[data-action=details]')!);

    await screen.findByTestId('job-result');
    expect(screen.queryByTestId('job-result-link')).toBeNull();
    expect(document.querySelector('a[href^="javascript:"]')).toBeNull();
  });
});
