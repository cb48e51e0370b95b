// Where a deployed VM's NIC goes (the deployment's optional `network`, plan.py): the profile's libvirt
// network (nothing sent), another libvirt network of the host by name, or QEMU's user-mode NIC with
// TCP forwards from the host (agent/fleetvisor_agent/hypervisor/usernet.py). The Deploy page's
// choice is a draft of text fields; this turns it into the request, checks it as the API will
// (errors keyed as the API keys them: `network`, `network.forwards[0].host_port`, ...) and reads the
// finished job's forwards back into the SSH command of the hand-off.

import { optionalInteger } from './forms';
import type { DeployNetwork, Forward } from './types';

/** plan.py's MAX_FORWARDS. */
export const MAX_FORWARDS = 8;
export const LOOPBACK = '127.0.0.1';
/** A forward from every address of the host (then reached at the host's own name). */
export const ANY_ADDRESS = '0.0.0.0';
export const SSH_PORT = 22;
const DEFAULT_SSH_HOST_PORT = '2222';

export type NetworkMode = 'profile' | 'named' | 'user';

/** One forward as typed: the SSH row (always first) has its guest port fixed to 22. */
export interface ForwardDraft {
  host_port: string;
  guest_port: string;
  /** Empty: 127.0.0.1 (the API's default). */
  address: string;
}

export interface NetworkDraft {
  mode: NetworkMode;
  /** Another libvirt network of the host (mode `named`). */
  name: string;
  /** forwards[0] is SSH's (sent only when its host port is given); the rest are the operator's extras. */
  forwards: ForwardDraft[];
}

export function initialNetwork(): NetworkDraft {
  return { mode: 'profile', name: '', forwards: [{ host_port: DEFAULT_SSH_HOST_PORT, guest_port: String(SSH_PORT), address: '' }] };
}

/** The profile's own libvirt network (its manifest's `network`, `default` unless it names one). */
export function profileNetwork(manifest: Record<string, unknown>): string {
  return typeof manifest.network === 'string' ? manifest.network : 'default';
}

/** Each row's place in the request's `forwards` (null: not sent, an SSH row left empty). */
export function sentIndexes(draft: NetworkDraft): (number | null)[] {
  const skipSsh = draft.forwards[0]?.host_port.trim() === '';
  return draft.forwards.map((_, row) => (row === 0 && skipSsh ? null : row - (skipSsh ? 1 : 0)));
}

function port(text: string): number {
  return optionalInteger(text) ?? Number.NaN;
}

/** The request's `network`, or undefined for the profile's own (nothing sent). */
export function networkRequest(draft: NetworkDraft): DeployNetwork | undefined {
  if (draft.mode === 'profile') return undefined;
  if (draft.mode === 'named') return draft.name.trim();
  const indexes = sentIndexes(draft);
  const forwards = draft.forwards
    .filter((_, row) => indexes[row] !== null)
    .map((row): Forward => {
      const address = row.address.trim();
      return { host_port: port(row.host_port), guest_port: port(row.guest_port), ...(address ? { address } : {}) };
    });
  return { mode: 'user', forwards };
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** What the API would refuse, keyed as it keys it (plan.py's messages). */
export function checkNetwork(draft: NetworkDraft): Record<string, string> {
  const network = networkRequest(draft);
  if (network === undefined) return {};
  if (typeof network === 'string') {
    return network ? {} : { network: 'is required: the name of a libvirt network of the host.' };
  }
  if (network.forwards.length > MAX_FORWARDS) return { network: `takes at most ${MAX_FORWARDS} forwards.` };
  const errors: Record<string, string> = {};
  const seen = new Set<number>();
  network.forwards.forEach((forward, index) => {
    const where = `network.forwards[${index}]`;
    for (const key of ['host_port', 'guest_port'] as const) {
      if (!isPort(forward[key])) errors[`${where}.${key}`] = 'must be a port number from 1 to 65535.';
    }
    if (forward.address !== undefined && !isIpv4(forward.address)) {
      errors[`${where}.address`] = 'must be an IPv4 address of the host, such as 127.0.0.1.';
    }
    if (seen.has(forward.host_port)) errors[`${where}.host_port`] = 'is forwarded twice.';
    seen.add(forward.host_port);
  });
  return errors;
}

export interface ForwardSeen {
  address: string;
  host_port: number;
  guest_port: number;
}

/** A forward as the deploy job's result writes it ("127.0.0.1:2222->22/tcp"), or null. */
export function parseForward(text: string): ForwardSeen | null {
  const match = /^([^:]+):(\d+)->(\d+)\/tcp$/.exec(text);
  return match ? { address: match[1], host_port: Number(match[2]), guest_port: Number(match[3]) } : null;
}

export interface SshHandoff {
  command: string;
  /** For a forward on 127.0.0.1: the command that reaches it from elsewhere, through the host. */
  jump: string | null;
}

/**
 * How the user logs in: through a forward to the guest's port 22 (`ssh -p PORT user@ADDRESS`; on
 * 127.0.0.1 that works from the host itself, `ssh -J HOST` reaches it from elsewhere; on 0.0.0.0 at
 * the host's name), else at the VM's first address; null when neither is known.
 */
export function sshHandoff(
  user: string | null,
  result: { addresses?: string[]; forwards?: string[] } | null,
  host: string,
): SshHandoff | null {
  if (!user || !result) return null;
  const ssh = (result.forwards ?? []).map(parseForward).find((forward) => forward?.guest_port === SSH_PORT);
  if (ssh) {
    const target = ssh.address === ANY_ADDRESS ? host : ssh.address;
    const command = `ssh -p ${ssh.host_port} ${user}@${target}`;
    return { command, jump: ssh.address === LOOPBACK ? `ssh -J ${host} -p ${ssh.host_port} ${user}@${LOOPBACK}` : null };
  }
  const address = result.addresses?.[0];
  return address ? { command: `ssh ${user}@${address}`, jump: null } : null;
}
