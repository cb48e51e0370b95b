// Example API objects for tests, with fields overridable per test.

import { isFinal, type Agent, type ConsoleSession, type FleetVm, type Job, type VM } from '../types';

export function anAgent(over: Partial<Agent> = {}): Agent {
  return {
    agent_id: 'agt-1',
    name: 'hv1',
    hostname: 'hv1.example.test',
    environment: 'lab',
    status: 'online',
    last_seen_ms: 1_700_000_000_000,
    enrolled_ms: 1_690_000_000_000,
    capabilities: { hypervisor: 'QEMU', libvirt_version: '9.0.0' },
    console_unavailable: null,
    vm_count: 1,
    labels: {},
    approval: 'approved',
    pending_reregistration: false,
    pending_since_ms: null,
    ...over,
  };
}

export function aVm(over: Partial<VM> = {}): VM {
  return {
    agent_id: 'agt-1',
    uuid: '11111111-2222-4333-8444-555555555555',
    name: 'web1',
    state: 'shutoff',
    vcpus: 2,
    memory_kib: 2 * 1024 * 1024,
    updated_ms: 1_700_000_000_000,
    state_reason: null,
    autostart: false,
    persistent: true,
    ...over,
  };
}

/** A VM as the fleet list (GET /api/vms) answers it. */
export function aFleetVm(over: Partial<FleetVm> = {}): FleetVm {
  return { ...aVm(), host_name: 'hv1', addresses: null, labels: {}, ...over };
}

/** A job; `final` follows its status unless given. */
export function aJob(over: Partial<Job> = {}): Job {
  const job: Omit<Job, 'final'> = {
    job_id: 'job-1',
    agent_id: 'agt-1',
    op: 'vm.start',
    args: { vm_uuid: '11111111-2222-4333-8444-555555555555' },
    status: 'queued',
    attempt: 0,
    created_ms: 1_700_000_000_000,
    claimed_ms: null,
    started_ms: null,
    finished_ms: null,
    exit_code: null,
    summary: null,
    vm_uuid: '11111111-2222-4333-8444-555555555555',
    result: null,
    max_attempts: 3,
    cancel_requested: false,
    ...over,
  };
  return { ...job, final: over.final ?? isFinal(job.status) };
}

export function aConsole(over: Partial<ConsoleSession> = {}): ConsoleSession {
  return {
    console_id: 'c0ffee00c0ffee00c0ffee00c0ffee00',
    agent_id: 'agt-1',
    vm_uuid: '11111111-2222-4333-8444-555555555555',
    vm_name: 'web1',
    job_id: 'job-console-1',
    status: 'open',
    closed_reason: null,
    created_ms: 1_700_000_000_000,
    closed_ms: null,
    last_seq: 0,
    bytes: 0,
    ...over,
  };
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}
