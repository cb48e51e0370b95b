// The fake API's hosts, VMs and jobs: listing, VM actions (with their extra
// fields: autostart, delete, snapshots, detail), job results, approval,
// rejection, deregistration, labels (of hosts and VMs), the fleet list
// (GET /api/vms), the job list's filters and cancel.
// A host waiting for approval answers 404 for its VMs, as the real one does.
// A VM action's job ends on its second GET; then its effect is applied and
// its result document (GET /api/jobs/{id}/result) recorded. `state.jobFailures`
// makes the jobs of one action end `failed` with the given summary.

import { isFinal, type Job, type ResultDocument, type VM, type VmActionName } from '../types';
import type { FakeServerState } from './fakeServer';
import { fail, ok, page, type FakeRequest, type Route } from './fakeHttp';
import { FEED_ORIGIN } from './fakeFeed';
import { aJob } from './fixtures';

const NEXT_STATE: Partial<Record<VmActionName, VM['state']>> = {
  start: 'running',
  reset: 'running',
  shutdown: 'shutoff',
  'force-stop': 'shutoff',
  suspend: 'paused',
  resume: 'running',
  reboot: 'running',
};

const LABEL_KEY = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const CONTROL = /[\x00-\x1f\x7f]/;
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ACTIONS: readonly string[] = [
  'start', 'shutdown', 'force-stop', 'reboot', 'reset', 'suspend', 'resume', 'set-autostart', 'delete',
  'snapshot-create', 'snapshot-list', 'snapshot-revert', 'snapshot-delete', 'detail',
];
const JOB_STATUSES = ['queued', 'claimed', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'expired'];

/** The server's own words for labels it refuses (functions/chalicelib/agents/logic.py). */
export function labelsProblem(labels: unknown): string | null {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return "'labels' must be an object.";
  const entries = Object.entries(labels);
  if (entries.length > 20) return 'A host may carry at most 20 labels.';
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || typeof value !== 'string' || value.length > 200 || CONTROL.test(value)) {
      return `Label '${key.slice(0, 64)}' is not allowed: a key is 1 to 63 characters of a-z, 0-9, '_', '.' and '-' starting with a letter or digit, and its value at most 200 printable characters on one line.`;
    }
  }
  return null;
}

export function fleetRoutes(state: FakeServerState): Route[] {
  const noHost = () => fail(404, 'agent_not_found', 'No such host.');
  const findAgent = (id: string) => state.agents.find((a) => a.agent_id === id);
  /** Hosts reachable for VM calls: known and approved. */
  const approved = (id: string) => findAgent(id)?.approval === 'approved';

  /** The bucket's answer to the page's GET of its feed URL (another origin: no token expected). */
  function readFeed({ path, query, headers, init }: FakeRequest): Response {
    state.feedRequests.push({ headers: [...headers.keys()].length, credentials: init.credentials ?? null, cache: init.cache ?? null });
    const read = state.feed.read(`${FEED_ORIGIN}${path}?${query.toString()}`);
    if (read.status !== 200) return new Response('<Error><Code>AccessDenied</Code></Error>', { status: read.status });
    return ok({ version: read.version });
  }

  function listVms({ params }: FakeRequest): Response {
    if (!approved(params[0])) return noHost();
    return ok({ vms: state.vms.filter((vm) => vm.agent_id === params[0]) });
  }

  /** GET /api/vms: every VM on an approved host, by name, with its host's name and status, in pages. */
  function listFleet({ query }: FakeRequest): Response {
    const hosts = new Map(state.agents.filter((a) => a.approval === 'approved').map((a) => [a.agent_id, a]));
    const vms = state.vms
      .filter((vm) => hosts.has(vm.agent_id))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((vm) => ({ labels: {}, addresses: null, ...vm, host_name: hosts.get(vm.agent_id)!.name }));
    const { items, next } = page(vms, query, 1000);
    return ok({ vms: items, next_cursor: next });
  }

  /** GET /api/agents/{id}/vms/{vm} (by UUID). */
  function getVm({ params }: FakeRequest): Response {
    const vm = approved(params[0]) ? state.vms.find((v) => v.agent_id === params[0] && v.uuid === params[1]) : undefined;
    return vm ? ok(vm) : fail(404, 'vm_not_found', 'No such VM on this host.');
  }

  /** PATCH /api/agents/{id}/vms/{vm}: a VM's labels, replaced whole. */
  function setVmLabels({ params, body }: FakeRequest): Response {
    const vm = approved(params[0]) ? state.vms.find((v) => v.agent_id === params[0] && v.uuid === params[1]) : undefined;
    if (!vm) return fail(404, 'vm_not_found', 'No such VM on this host.');
    const labels = (body as { labels?: unknown } | null)?.labels;
    const problem = labelsProblem(labels);
    if (problem) return fail(400, 'invalid_request', problem.replace('A host', 'A VM'));
    vm.labels = labels as Record<string, string>;
    return ok(vm);
  }

  /** What a finished action did: an error (code, message) or the data it read. */
  function perform(job: Job, body: Record<string, unknown>): { error?: [string, string]; data?: unknown } {
    const action = body.action as VmActionName;
    const uuid = job.vm_uuid ?? '';
    const vm = state.vms.find((v) => v.uuid === uuid);
    if (!vm) return { error: ['vm_not_found', 'No such VM on this host.'] };
    const failure = state.jobFailures.get(action);
    if (failure) return { error: ['hypervisor_error', failure] };
    const snapshots = state.snapshots.get(uuid) ?? [];
    const named = snapshots.find((snap) => snap.name === body.name);
    const missing = { error: ['snapshot_not_found', `No snapshot named ${String(body.name)}.`] as [string, string] };
    switch (action) {
      case 'set-autostart':
        vm.autostart = body.autostart === true;
        return {};
      case 'delete':
        if (vm.state === 'running') return { error: ['invalid_state', 'The VM is running: stop it first.'] };
        state.vms = state.vms.filter((v) => v.uuid !== uuid);
        return {};
      case 'snapshot-create':
        if (named) return { error: ['snapshot_exists', `A snapshot named ${String(body.name)} exists.`] };
        snapshots.forEach((snap) => (snap.current = false));
        state.snapshots.set(uuid, [
          ...snapshots,
          { name: String(body.name), description: (body.description as string) ?? null, created_at: 1_700_000_000, state: vm.state, current: true },
        ]);
        return {};
      case 'snapshot-revert':
        if (!named) return missing;
        snapshots.forEach((snap) => (snap.current = snap === named));
        return {};
      case 'snapshot-delete':
        if (!named) return missing;
        state.snapshots.set(uuid, snapshots.filter((snap) => snap !== named));
        return {};
      case 'snapshot-list':
        return { data: { snapshots } };
      case 'detail':
        return { data: state.details.get(uuid) ?? { disks: [], nics: [], ips: [], uptime_seconds: null } };
      default:
        vm.state = NEXT_STATE[action] ?? vm.state;
        return action === 'shutdown' ? { data: { escalated: false } } : {};
    }
  }

  function advance(job: Job): Job {
    if (job.status === 'queued') return { ...job, status: 'running', attempt: 1 };
    const { error, data } = perform(job, state.actionBodies.get(job.job_id) ?? {});
    const document: ResultDocument = {
      job_id: job.job_id,
      attempt: job.attempt,
      op: job.op,
      ok: error === undefined,
      vm: null,
      error: error ? { code: error[0], message: error[1] } : null,
      duration_ms: 5,
      ...(data === undefined ? {} : { data }),
    };
    state.results.set(job.job_id, document);
    const result = { size: JSON.stringify(document).length, etag: `"${job.job_id}"` };
    if (error) return { ...job, status: 'failed', final: true, exit_code: 1, summary: `${error[0]}: ${error[1]}`, result };
    return { ...job, status: 'succeeded', final: true, exit_code: 0, summary: 'ok', result };
  }

  function jobResult({ params }: FakeRequest): Response {
    const document = state.results.get(params[0]);
    if (!state.jobs.some((j) => j.job_id === params[0])) return fail(404, 'job_not_found', 'No such job.');
    return document ? ok(document) : fail(404, 'result_not_found', 'The job has no result.');
  }

  /** The server's 400 for a body the action does not take, or null. */
  function badAction(body: Record<string, unknown>, vmUuid: string): Response | null {
    const invalid = (message: string) => fail(400, 'invalid_request', message);
    const action = body.action;
    if (typeof action !== 'string' || !ACTIONS.includes(action)) return invalid("'action' is not a VM action.");
    const timeout = body.timeout_seconds;
    if (timeout !== undefined && (!Number.isInteger(timeout) || (timeout as number) < 1 || (timeout as number) > 3600)) {
      return invalid("'timeout_seconds' must be a whole number from 1 to 3600.");
    }
    if (action === 'set-autostart' && typeof body.autostart !== 'boolean') return invalid("'autostart' must be true or false.");
    if (action === 'delete') {
      const vm = state.vms.find((v) => v.uuid === vmUuid);
      if (typeof body.delete_storage !== 'boolean') return invalid("'delete_storage' must be true or false.");
      if (body.confirm !== vm?.name) return fail(400, 'confirmation_mismatch', "'confirm' must be the VM's name.");
    }
    if (action.startsWith('snapshot-') && action !== 'snapshot-list') {
      if (typeof body.name !== 'string' || !SNAPSHOT_NAME.test(body.name)) {
        return invalid('A snapshot name is 1 to 64 letters, digits, dots, dashes or underscores.');
      }
    }
    return null;
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
    const refused = badAction(body, params[1]);
    if (refused) return refused;
    const action = body.action as VmActionName;
    const op = `vm.${action.replace('-', '_')}`;
    const { action: _action, ...args } = body;
    const job = aJob({
      job_id: `job-${state.jobs.length + 1}`,
      agent_id: params[0],
      op,
      vm_uuid: params[1],
      args: { vm_uuid: params[1], ...args },
    });
    state.jobs.unshift(job);
    state.actions.set(job.job_id, action);
    state.actionBodies.set(job.job_id, body);
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
    { method: 'GET', pattern: /^\/api\/changes$/, handle: () => ok(state.feed.answer()) },
    { method: 'GET', pattern: /^\/changes\/([^/]+)$/, open: true, handle: readFeed },
    {
      method: 'POST',
      pattern: /^\/api\/agents\/ping$/,
      handle: () => (state.pingRoute ? ok({ pinged: 0 }) : fail(404, 'route_not_found', 'No such route.')),
    },
    { method: 'GET', pattern: /^\/api\/vms$/, handle: listFleet },
    { method: 'GET', pattern: /^\/api\/agents\/([^/]+)\/vms$/, handle: listVms },
    { method: 'GET', pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)$/, handle: getVm },
    { method: 'PATCH', pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)$/, handle: setVmLabels },
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/vms\/([^/]+)\/actions$/, handle: act },
    { method: 'PATCH', pattern: /^\/api\/agents\/([^/]+)$/, handle: setLabels },
    { method: 'DELETE', pattern: /^\/api\/agents\/([^/]+)$/, handle: deregister },
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/approve$/, handle: approve },
    { method: 'POST', pattern: /^\/api\/agents\/([^/]+)\/reject$/, handle: reject },
    { method: 'GET', pattern: /^\/api\/jobs$/, handle: listJobs },
    { method: 'GET', pattern: /^\/api\/jobs\/([^/]+)$/, handle: getJob },
    { method: 'GET', pattern: /^\/api\/jobs\/([^/]+)\/result$/, handle: jobResult },
    { method: 'POST', pattern: /^\/api\/jobs\/([^/]+)\/cancel$/, handle: cancel },
  ];
}
