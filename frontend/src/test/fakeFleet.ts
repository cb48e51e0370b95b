// The fake API's hosts, VMs and jobs: listing, VM actions, approval,
// rejection, deregistration, labels, the job list's filters and cancel.
// A host waiting for approval answers 404 for its VMs, as the real one does.

import { isFinal, type Job, type VM, type VmAction } from '../types';
import type { FakeServerState } from './fakeServer';
import { fail, ok, type FakeRequest, type Route } from './fakeHttp';
import { aJob } from './fixtures';

const NEXT_STATE: Partial<Record<VmAction, VM['state']>> = {
  start: 'running',
  shutdown: 'shutoff',
  'force-stop': 'shutoff',
  suspend: 'paused',
  resume: 'running',
  reboot: 'running',
};

const LABEL_KEY = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const CONTROL = /[\x00-\x1f\x7f]/;
const JOB_STATUSES = ['queued', 'claimed', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'expired'];

/** The server's own words for labels it refuses (functions/chalicelib/agents/logic.py). */
export function labelsProblem(labels: unknown): string | null {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return "'labels' must be an object.";
  const entries = Object.entries(labels);
  if (entries.length > 20) return 'A host may carry at most 20 labels.';
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || typeof value !== 'string' || value.length > 200 || CONTROL.test(value)) {
      return `Label '${key.slice(0, 64)}' must be a lowercase name with a short printable text value.`;
    }
  }
  return null;
}

export function fleetRoutes(state: FakeServerState): Route[] {
  const noHost = () => fail(404, 'agent_not_found', 'No such host.');
  const findAgent = (id: string) => state.agents.find((a) => a.agent_id === id);
  /** Hosts reachable for VM calls: known and approved. */
  const approved = (id: string) => findAgent(id)?.approval === 'approved';

  function listVms({ params }: FakeRequest): Response {
    if (!approved(params[0])) return noHost();
    return ok({ vms: state.vms.filter((vm) => vm.agent_id === params[0]) });
  }

  function advance(job: Job): Job {
    if (job.status === 'queued') return { ...job, status: 'running', attempt: 1 };
    const action = state.actions.get(job.job_id);
    state.vms = state.vms.map((vm) =>
      vm.uuid === job.vm_uuid && action ? { ...vm, state: NEXT_STATE[action] ?? vm.state } : vm,
    );
    return { ...job, status: 'succeeded', final: true, exit_code: 0, summary: 'ok' };
  }

  /** Jobs started through the VM action route move one step per GET; others stay as the test set them. */
  function getJob({ params }: FakeRequest): Response {
    const index = state.jobs.findIndex((j) => j.job_id === params[0]);
    if (index < 0) return fail(404, 'job_not_found', 'No such job.');
    const job = state.jobs[index];
    if (state.actions.has(job.job_id) && !isFinal(job.status)) state.jobs[index] = advance(job);
    const answer = state.jobs[index];
    if (answer.result === null) return ok(answer);
    return ok({ ...answer, result: { ...answer.result, url: `${state.resultBase}/${answer.job_id}?sig=abc` } });
  }

  function listJobs({ query }: FakeRequest): Response {
    const status = query.get('status');
    if (status && !JOB_STATUSES.includes(status)) return fail(400, 'invalid_request', "'status' is not a job status.");
    const agentId = query.get('agent_id');
    const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 50)));
    const jobs = state.jobs.filter((j) => (!agentId || j.agent_id === agentId) && (!status || j.status === status));
    return ok({ jobs: jobs.slice(0, limit) });
  }

  function cancel({ params }: FakeRequest): Response {
    const index = state.jobs.findIndex((j) => j.job_id === params[0]);
    if (index < 0) return fail(404, 'job_not_found', 'No such job.');
    const job = state.jobs[index];
    if (isFinal(job.status)) return fail(409, 'job_final', `The job has already ended (${job.status}).`);
    state.jobs[index] =
      job.status === 'queued'
        ? { ...job, status: 'cancelled', final: true, summary: 'Cancelled before it ran.' }
        : { ...job, cancel_requested: true };
    return ok(state.jobs[index]);
  }

  function act({ params, body }: FakeRequest): Response {
    if (!approved(params[0])) return noHost();
    const action = body.action as VmAction;
    const op = `vm.${action.replace('-', '_')}`;
    const job = aJob({ job_id: `job-${state.jobs.length + 1}`, agent_id: params[0], op, vm_uuid: params[1] });
    state.jobs.unshift(job);
    state.actions.set(job.job_id, action);
    return ok(job, 202);
  }

  function setLabels({ params, body }: FakeRequest): Response {
    const agent = findAgent(params[0]);
    if (!agent) return noHost();
    const problem = labelsProblem(body.labels);
    if (problem) return fail(400, 'invalid_request', problem);
    agent.labels = body.labels as Record<string, string>;
    return ok(agent);
  }

  function deregister({ params }: FakeRequest): Response {
    if (!findAgent(params[0])) return noHost();
    state.agents = state.agents.filter((a) => a.agent_id !== params[0]);
    state.vms = state.vms.filter((vm) => vm.agent_id !== params[0]);
    return ok({});
  }

  const nothingPending = () => fail(409, 'nothing_pending', 'Nothing is waiting for approval on this host.');

  function approve({ params }: FakeRequest): Response {
    const agent = findAgent(params[0]);
    if (!agent) return noHost();
    if (!agent.pending_reregistration && agent.approval !== 'pending') return nothingPending();
    const nowApproved = { approval: 'approved', status: 'online', pending_reregistration: false, pending_since_ms: null };
    Object.assign(agent, nowApproved);
    return ok(agent);
  }

  function reject(request: FakeRequest): Response {
    const agent = findAgent(request.params[0]);
    if (!agent) return noHost();
    if (agent.pending_reregistration) {
      Object.assign(agent, { pending_reregistration: false, pending_since_ms: null });
      return ok({});
    }
    return agent.approval === 'pending' ? deregister(request) : nothingPending();
  }

  return [
    { method: 'GET', pattern: /^\/api\/agents$/, handle: () => ok({ agents: state.agents }) },
    { method: 'GET', pattern: /^\/api\/agents\/([^/]+)\/vms$/, handle: listVms },
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)\/actions$/, handle: act },
    { method: 'PATCH', pattern: /^\/api\/agents\/([^/]+)$/, handle: setLabels },
    { method: 'DELETE', pattern: /^\/api\/agents\/([^/]+)$/, handle: deregister },
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/approve$/, handle: approve },
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/reject$/, handle: reject },
    { method: 'GET', pattern: /^\/api\/jobs$/, handle: listJobs },
    { method: 'GET', pattern: /^\/api\/jobs\/([^/]+)$/, handle: getJob },
    { method: 'POST', pattern: /^\/api\/jobs\/([^/]+)\/cancel$/, handle: cancel },
  ];
}
