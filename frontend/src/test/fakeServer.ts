// A tiny in-memory operator API behind a fake fetch, for app-level tests.
// It speaks the shapes of docs/protocol.md; each GET of a job moves it one
// step (queued → running → succeeded) and a finished job updates its VM.

import type { FetchFn } from '../api';
import type { Job, VM, VmAction } from '../types';
import { aJob, anAgent, aVm, jsonResponse } from './fixtures';

const NEXT_STATE: Partial<Record<VmAction, VM['state']>> = {
  start: 'running',
  shutdown: 'shutoff',
  'force-stop': 'shutoff',
  suspend: 'paused',
  resume: 'running',
  reboot: 'running',
};

export function fakeServer() {
  const state = {
    password: 'secret',
    token: 'tok-1' as string | null,
    vms: [aVm({ state: 'shutoff' })],
    jobs: [] as Job[],
    actions: new Map<string, VmAction>(),
    requests: [] as string[],
  };

  const error = (status: number, code: string, message: string) => jsonResponse(status, { error: { code, message } });

  function advance(job: Job): Job {
    if (job.status === 'queued') return { ...job, status: 'running', attempt: 1 };
    const action = state.actions.get(job.job_id);
    state.vms = state.vms.map((vm) =>
      vm.uuid === job.vm_uuid && action ? { ...vm, state: NEXT_STATE[action] ?? vm.state } : vm,
    );
    return { ...job, status: 'succeeded', exit_code: 0, summary: 'ok' };
  }

  function getJob(id: string): Response {
    const index = state.jobs.findIndex((j) => j.job_id === id);
    if (index < 0) return error(404, 'job_not_found', 'No such job.');
    if (state.jobs[index].status !== 'succeeded') state.jobs[index] = advance(state.jobs[index]);
    return jsonResponse(200, state.jobs[index]);
  }

  function act(uuid: string, body: string): Response {
    const action = (JSON.parse(body) as { action: VmAction }).action;
    const job = aJob({ job_id: `job-${state.jobs.length + 1}`, op: `vm.${action.replace('-', '_')}`, vm_uuid: uuid });
    state.jobs.unshift(job);
    state.actions.set(job.job_id, action);
    return jsonResponse(202, job);
  }

  function login(body: string): Response {
    const { email, password } = JSON.parse(body) as { email: string; password: string };
    if (password !== state.password || state.token === null) {
      return error(401, 'invalid_credentials', 'Wrong email or password.');
    }
    const user = { user_id: 'u1', email, role: 'operator' };
    return jsonResponse(200, { access_token: state.token, token_type: 'Bearer', expires_in: 900, user });
  }

  function route(method: string, path: string, body: string): Response {
    if (method === 'POST' && path === '/api/auth/login') return login(body);
    if (method === 'GET' && path === '/api/agents') return jsonResponse(200, { agents: [anAgent()] });
    if (method === 'GET' && path === '/api/agents/agt-1/vms') return jsonResponse(200, { vms: state.vms });
    if (method === 'GET' && path.startsWith('/api/jobs?')) return jsonResponse(200, { jobs: state.jobs });
    const job = path.match(/^\/api\/jobs\/([^/]+)$/);
    if (method === 'GET' && job) return getJob(job[1]);
    const action = path.match(/^\/api\/agents\/agt-1\/vms\/([^/]+)\/actions$/);
    if (method === 'POST' && action) return act(action[1], body);
    return error(404, 'route_not_found', 'No such route.');
  }

  const fetch: FetchFn = async (path, init) => {
    const method = init.method ?? 'GET';
    state.requests.push(`${method} ${path}`);
    const auth = new Headers(init.headers).get('Authorization');
    const open = path === '/api/auth/login';
    if (!open && (state.token === null || auth !== `Bearer ${state.token}`)) {
      return error(401, 'unauthorized', 'The token is not valid.');
    }
    return route(method, path, typeof init.body === 'string' ? init.body : '');
  };

  return { state, fetch };
}
