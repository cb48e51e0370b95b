// Shapes of the operator API (docs/protocol.md, "Operator API").
// Timestamps ending in `_ms` are integer Unix milliseconds.

export type AgentStatus = 'online' | 'stale' | 'lost';

export type VmState =
  | 'running'
  | 'paused'
  | 'shutoff'
  | 'crashed'
  | 'pmsuspended'
  | 'blocked'
  | 'nostate'
  | 'shutdown';

export type JobStatus =
  | 'queued'
  | 'claimed'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled'
  | 'expired';

export type VmAction = 'start' | 'shutdown' | 'force-stop' | 'reboot' | 'suspend' | 'resume';

/** What the host reported about itself; its keys are up to the agent. */
export type Capabilities = Record<string, unknown>;

export interface User {
  user_id: string;
  email: string;
  role: string;
}

export interface LoginResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  user: User;
}

export interface Agent {
  agent_id: string;
  name: string;
  hostname: string;
  environment: string;
  status: AgentStatus;
  last_seen_ms: number | null;
  enrolled_ms: number;
  capabilities: Capabilities | null;
  vm_count: number;
}

export interface VM {
  agent_id: string;
  uuid: string;
  name: string;
  state: VmState;
  vcpus: number;
  memory_kib: number;
  updated_ms: number;
}

export interface JobResult {
  size: number;
  etag: string;
}

export interface Job {
  job_id: string;
  agent_id: string;
  op: string;
  args: Record<string, unknown>;
  status: JobStatus;
  attempt: number;
  created_ms: number;
  claimed_ms: number | null;
  started_ms: number | null;
  finished_ms: number | null;
  exit_code: number | null;
  summary: string | null;
  vm_uuid: string | null;
  result: JobResult | null;
}

const FINAL_JOB_STATUSES: ReadonlySet<string> = new Set<JobStatus>([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'expired',
]);

/** Final job states never change (docs/protocol.md). */
export function isFinal(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.has(status);
}
