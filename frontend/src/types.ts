// Shapes of the operator API (docs/protocol.md, "Operator API").
// Timestamps ending in `_ms` are integer Unix milliseconds.

/** `pending`: a new host waiting for the owner's approval (its VMs are not reachable yet). */
export type AgentStatus = 'online' | 'stale' | 'lost' | 'pending';

export type AgentApproval = 'approved' | 'pending';

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

/** Every action POST /api/agents/{id}/vms/{vm}/actions takes ("Actions and their extra fields"). */
export type VmActionName =
  | VmAction
  | 'reset'
  | 'set-autostart'
  | 'delete'
  | 'snapshot-create'
  | 'snapshot-list'
  | 'snapshot-revert'
  | 'snapshot-delete'
  | 'detail'
  | 'clone'
  | 'resize';

/** The body of a VM action: the action and its extra fields. */
export type VmRequest =
  | { action: VmAction | 'reset' | 'snapshot-list' | 'detail' }
  | { action: 'shutdown'; timeout_seconds: number }
  | { action: 'set-autostart'; autostart: boolean }
  | { action: 'delete'; delete_storage: boolean; confirm: string }
  | { action: 'snapshot-create'; name: string; description?: string }
  | { action: 'snapshot-revert' | 'snapshot-delete'; name: string }
  | { action: 'clone'; name: string; linked: boolean; start: boolean }
  | ({ action: 'resize' } & ResizeChange);

/** What a resize changes (at least one): vCPUs, memory, and disks by target (grow only). */
export interface ResizeChange {
  vcpus?: number;
  memory_mib?: number;
  disks?: Array<{ target: string; size_gib: number }>;
}

/** What the host reported about itself; its keys are up to the agent. */
export type Capabilities = Record<string, unknown>;

/** Who is logged in, as login and refresh answer it. */
export interface User {
  user_id: string;
  email: string;
  /** `admin` or `operator`. */
  role: string;
}

/** Login, refresh and a password change all answer this. */
export interface LoginResponse {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
  user: User;
}

export type Role = 'admin' | 'operator';

export const ROLES: readonly Role[] = ['operator', 'admin'];

/** A user account in full (GET /api/me, /api/users). */
export interface Account extends User {
  name: string;
  disabled: boolean;
  created_ms: number;
  /** New hosts enrolled with this user's tokens wait for their approval. */
  require_host_approval: boolean;
}

/** One of the caller's logged-in sessions (GET /api/me/sessions). */
export interface SessionInfo {
  session_id: string;
  created_ms: number;
  last_used_ms: number | null;
  expires_ms: number;
  user_agent: string | null;
  source_ip: string | null;
  /** The session this page is using. */
  current: boolean;
}

export type Scope = 'read' | 'operate' | 'admin';

export const SCOPES: readonly Scope[] = ['read', 'operate', 'admin'];

export interface ApiKey {
  key_id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  created_ms: number;
  expires_ms: number | null;
  last_used_ms: number | null;
  revoked: boolean;
}

/** The answer to creating a key: the only time the secret is shown. */
export interface NewApiKey extends ApiKey {
  secret: string;
}

export interface EnrollmentToken {
  token_id: string;
  note: string;
  created_ms: number;
  expires_ms: number;
  uses: number;
  uses_left: number;
  revoked: boolean;
}

/** The answer to creating an enrolment token: the only time it is shown. */
export interface NewEnrollmentToken extends EnrollmentToken {
  token: string;
}

export interface AuditRecord {
  record_id: string;
  ts_ms: number;
  actor: unknown;
  /** What the server calls the actor and target (an account's email, a host's name, "VM on host"); null when nothing names them. */
  actor_name?: string | null;
  target_name?: string | null;
  action: string;
  target: unknown;
  outcome: string;
  source_ip: string | null;
  user_agent: string | null;
  detail: unknown;
}

/** One page of a cursor-paged list; `next` is null on the last page. */
export interface Page<T> {
  items: T[];
  next: string | null;
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
  /** Why this host opens no serial console (its hypervisor has none); null when it does. */
  console_unavailable: string | null;
  vm_count: number;
  /** Lowercase keys, short text values (PATCH /api/agents/{id} replaces them all). */
  labels: Record<string, string>;
  approval: AgentApproval;
  /** Another agent key asked to enrol under this host's name and waits for approval. */
  pending_reregistration: boolean;
  /** When what is pending (a new host or a re-registration) asked; null when nothing is. */
  pending_since_ms: number | null;
}

/** GET /api/changes: the fleet's change version now, and where the page reads it from next. */
export interface FleetFeed {
  version: number;
  feed: {
    /** A presigned GET of `{"version": N}` in the bucket; read with no header of ours. */
    url: string;
    /** Unix seconds (the server's clock). */
    expires_at: number;
    poll_ms: number;
  };
}

export interface VM {
  agent_id: string;
  uuid: string;
  name: string;
  state: VmState;
  vcpus: number;
  memory_kib: number;
  updated_ms: number;
  /** libvirt's reason for the state in lowercase words (`destroyed`, `booted`, `user`…); null: not reported. */
  state_reason: string | null;
  /** Starts with the host; null: not reported. */
  autostart: boolean | null;
  /** Defined on the host; false: a transient VM, gone once it stops. Null: not reported. */
  persistent: boolean | null;
  /** IP addresses the host knows for it (DHCP leases, ARP); null or absent: not reported. */
  addresses?: string[] | null;
  /** The operator's labels on this VM (PATCH /api/agents/{id}/vms/{vm} replaces them all). */
  labels?: Record<string, string>;
}

/** One VM of the fleet list (GET /api/vms): with its host's name (its status is the host list's). */
export interface FleetVm extends VM {
  host_name: string;
}

/** GET /api/jobs/{id}/result: what the agent uploaded ("Result JSON"). */
export interface ResultDocument {
  job_id: string;
  attempt: number;
  op: string;
  ok: boolean;
  vm: { uuid: string; name: string; state: string } | null;
  error: { code: string; message: string } | null;
  duration_ms: number;
  /** What the operation read (vm.detail, vm.snapshot_list, …). */
  data?: unknown;
}

/** One entry of vm.snapshot_list's `data.snapshots`. */
export interface Snapshot {
  name: string;
  description: string | null;
  /** Unix seconds, when known. */
  created_at: number | null;
  state: string | null;
  current: boolean;
}

export interface VmDisk {
  target: string | null;
  source?: string | null;
  capacity_bytes: number | null;
  allocation_bytes?: number | null;
  /** "disk", "cdrom" or "floppy". */
  device?: string;
  readonly?: boolean;
}

export interface VmNic {
  mac: string | null;
  network?: string | null;
  bridge?: string | null;
  model?: string | null;
}

export interface VmAddress {
  interface?: string;
  address: string;
  prefix?: number;
  family?: string;
}

/** vm.detail's `data` (the fields the page shows; others are ignored). */
export interface VmDetail {
  disks?: VmDisk[];
  nics?: VmNic[];
  ips?: VmAddress[];
  uptime_seconds?: number | null;
}

export interface JobResult {
  size: number;
  etag: string;
  /** A short-lived download link; only GET /api/jobs/{id} answers it. */
  url?: string;
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
  max_attempts: number;
  final: boolean;
  /** An operator asked to cancel it; the agent stops it and it ends `cancelled`. */
  cancel_requested: boolean;
  /** Where a long job (vm.deploy) says it is, if its agent reports that. */
  progress?: JobProgress | null;
}

export interface JobProgress {
  step: string;
  /** A whole number 0..100, when the step knows. */
  percent?: number;
  detail?: string;
}

export const JOB_STATUSES: readonly JobStatus[] = [
  'queued',
  'claimed',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'expired',
];

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

// Serial consoles (docs/protocol.md, "Serial consoles").

export type ConsoleStatus = 'opening' | 'open' | 'closing' | 'closed';

export type ConsoleClosedReason = 'requested' | 'idle' | 'vm_stopped' | 'console_busy' | 'error' | 'agent_lost';

/** One console session of a VM (the protocol's `Console`; named so as not to shadow the DOM's). */
export interface ConsoleSession {
  console_id: string;
  agent_id: string;
  vm_uuid: string;
  vm_name: string;
  job_id: string;
  status: ConsoleStatus;
  closed_reason: ConsoleClosedReason | null;
  created_ms: number;
  closed_ms: number | null;
  /** The newest output chunk's number (0 before any output). */
  last_seq: number;
  /** How many bytes of output the transcript holds. */
  bytes: number;
}

/** The answer to opening a VM's console: a new session (201) or the open one joined (200). */
export interface ConsoleJoin {
  console: ConsoleSession;
  /** This terminal's handle for output, input and taking over. */
  client_id: string;
  writer: boolean;
}

/** One piece of serial output: a presigned GET of its raw bytes (valid 15 minutes). */
export interface ConsoleChunk {
  seq: number;
  url: string;
  size: number;
}

/** GET /api/consoles/{id}/output. */
export interface ConsoleOutput {
  chunks: ConsoleChunk[];
  /** The `after` of the next call. */
  next: number;
  /** More chunks wait: ask again at once. */
  more: boolean;
  status: ConsoleStatus;
  closed_reason: ConsoleClosedReason | null;
  /** Whether the polling client is the writer. */
  writer: boolean;
}

/** One property of an `inputs_schema` (JSON Schema 2020-12 with our x- keywords; README, "Guided deployments"). */
export interface PropertySchema {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  /** An array's items (ssh-key with x-multiple). */
  items?: PropertySchema;
  pattern?: string;
  format?: string;
  writeOnly?: boolean;
  'x-kind'?: string;
  'x-help'?: string;
  'x-visible-if'?: { input: string; equals?: unknown; in?: unknown[] };
  'x-options'?: { value: string; label: string }[];
  'x-min-mib'?: number;
  'x-max-mib'?: number;
  'x-multiple'?: boolean;
}

/** A form's schema: an object of properties (`inputs_schema`, `sizing_schema`). */
export interface ObjectSchema {
  properties: Record<string, PropertySchema>;
  required?: string[];
  allOf?: { then?: { required?: string[] } }[];
  'x-order'?: string[];
}

/** A profile or an installer (GET /api/profiles, GET /api/installers). */
export interface Manifest {
  id: string;
  kind: 'profile' | 'installer';
  version: number;
  title: string;
  description: string;
  builtin: boolean;
  manifest: Record<string, unknown>;
  inputs_schema: ObjectSchema;
  /** Profiles only. */
  sizing_schema?: ObjectSchema;
}

export interface ExitCodeMeaning {
  meaning: string;
  explanation: string;
}

/** One of the caller's own manifests (GET /api/manifests): as served, with its text and when it came. */
export interface OwnManifest extends Manifest {
  text: string;
  created_ms: number;
}

export interface InstallerList {
  installers: Manifest[];
  exit_codes: Record<string, ExitCodeMeaning>;
}

/** POST /api/agents/{agent_id}/deployments. */
export interface DeployRequest {
  profile: string;
  inputs: Record<string, unknown>;
  installers: (string | { id: string; inputs: Record<string, unknown> })[];
  sizing: Record<string, unknown>;
  name?: string;
  network?: DeployNetwork;
}

/** A TCP forward from the host to the guest (QEMU's user-mode NIC); `address` 127.0.0.1 unless given. */
export interface Forward {
  host_port: number;
  guest_port: number;
  address?: string;
}

/** A deployment's `network`: another libvirt network of the host, or the user-mode NIC with its forwards. */
export type DeployNetwork = string | { mode: 'user'; forwards: Forward[] };

/** The vm.deploy job, with the Windows password generated for it (answered this once). */
export interface DeployedJob extends Job {
  generated_password?: string;
}

/** What a finished vm.deploy reports (its result document's `data`). */
export interface DeployResult {
  vm_uuid?: string;
  name?: string;
  addresses?: string[];
  /** A user-mode NIC's forwards: "127.0.0.1:2222->22/tcp". */
  forwards?: string[];
  installers?: { id: string; exit: number; meaning?: string; last_lines?: string[] }[];
  first_boot?: unknown;
}

export interface SshKey {
  key_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  type: string;
  bits: number;
  created_ms: number;
}

/** POST /api/ssh-keys/generate: the private half, answered once and never kept. */
export interface NewSshKey extends SshKey {
  private_key: string;
}
