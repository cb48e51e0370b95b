import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { aFleetVm, aJob } from '../test/fixtures';
import type { FleetVm, Job } from '../types';
import { countsOf, createBulkRuns, isDone } from './bulkRun';

function vmsOn(hosts: number, each: number): FleetVm[] {
  return Array.from({ length: hosts * each }, (_, i) =>
    aFleetVm({ agent_id: `agt-${i % hosts}`, uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `vm-${i}` }),
  );
}

/** A server whose jobs end when the test says; counts the unfinished jobs per host at their peak. */
function fakeJobs() {
  const jobs = new Map<string, Job>();
  const peak = new Map<string, number>();
  const unfinished = (agentId: string) => [...jobs.values()].filter((j) => j.agent_id === agentId && !j.final).length;
  return {
    peak,
    start: vi.fn(async (vm: FleetVm) => {
      if (vm.name === 'vm-5') throw new ApiError(409, 'conflict', 'The VM is busy.');
      const job = aJob({ job_id: `job-${vm.name}`, agent_id: vm.agent_id, vm_uuid: vm.uuid, op: 'vm.start' });
      jobs.set(job.job_id, job);
      peak.set(vm.agent_id, Math.max(peak.get(vm.agent_id) ?? 0, unfinished(vm.agent_id)));
      return job;
    }),
    getJob: vi.fn(async (jobId: string) => jobs.get(jobId)!),
    /** Every job sent so far ends (vm-7's fails). */
    finishAll(): void {
      for (const [id, job] of jobs) {
        if (job.final) continue;
        const failed = id === 'job-vm-7';
        jobs.set(id, aJob({ ...job, final: true, status: failed ? 'failed' : 'succeeded', summary: failed ? 'libvirt said no' : null }));
      }
    },
  };
}

describe('bulk runs', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps at most perHost jobs unfinished on a host, counts each outcome and keeps each job', async () => {
    const server = fakeJobs();
    const runs = createBulkRuns({ getJob: server.getJob, perHost: 2, pollMs: 100 });
    const done = runs.run('Start', vmsOn(3, 5), server.start);
    await vi.advanceTimersByTimeAsync(0);
    expect(countsOf(runs.getState().runs[0])).toEqual({ succeeded: 0, failed: 1, running: 6, waiting: 8, skipped: 0 }); // vm-5 is refused at once
    for (let i = 0; i < 10 && !isDone(runs.getState().runs[0]); i++) {
      server.finishAll();
      await vi.advanceTimersByTimeAsync(100);
    }
    await done;
    const [run] = runs.getState().runs;
    expect(countsOf(run)).toEqual({ succeeded: 13, failed: 2, running: 0, waiting: 0, skipped: 0 });
    expect([...server.peak.values()].every((n) => n <= 2)).toBe(true);
    const failed = run.items.filter((item) => item.status === 'failed');
    expect(failed.map((item) => [item.vm.name, item.error])).toEqual([
      ['vm-5', 'The VM is busy.'],
      ['vm-7', 'vm.start failed: libvirt said no'],
    ]);
    expect(failed[1].job?.job_id).toBe('job-vm-7');
    runs.stop();
  });

  it('sends nothing to a VM the action does not apply to, and says so', async () => {
    const step = vi.fn(async (_vm: FleetVm) => null);
    const runs = createBulkRuns({ getJob: vi.fn() });
    const vms = vmsOn(1, 4).map((vm, i) => ({ ...vm, state: i % 2 ? ('running' as const) : ('shutoff' as const) }));
    await runs.run('Start', vms, step, (vm) => vm.state === 'shutoff');
    const [run] = runs.getState().runs;
    expect(countsOf(run)).toEqual({ succeeded: 2, failed: 0, running: 0, waiting: 0, skipped: 2 });
    expect(step.mock.calls.map(([vm]) => vm.name)).toEqual(['vm-0', 'vm-2']);
    expect(run.items[1].error).toBe('Not sent: the VM is running.');
    expect(isDone(run)).toBe(true);
  });

  it('a step without a job (labels) succeeds at once; after stop nothing more is sent', async () => {
    const runs = createBulkRuns({ getJob: vi.fn(), perHost: 1 });
    const step = vi.fn(async () => null);
    await runs.run('Label', vmsOn(1, 3), step);
    expect(countsOf(runs.getState().runs[0]).succeeded).toBe(3);
    const slow = vi.fn(() => new Promise<null>((resolve) => setTimeout(() => resolve(null), 1000)));
    void runs.run('Label', vmsOn(1, 3), slow);
    await vi.advanceTimersByTimeAsync(0);
    runs.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(slow).toHaveBeenCalledTimes(1);
  });
});
