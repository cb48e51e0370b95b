// Cloning and resizing a VM: what the forms check before sending, by the server's rules
// (vms/actions.py _clone and _resize), and what a resize's result says about when it applies.

import { formatBytes } from './format';
import { MAX_CLONE_NAME } from './limits';
import type { ResizeChange, VM, VmDisk } from './types';

export const GIB = 1024 ** 3;

/** validate.LIBVIRT_NAME_RE */
const CLONE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The server's bounds (vms/actions.py RESIZE_BOUNDS, DISK_GIB). */
export const RESIZE_LIMITS = {
  vcpus: [1, 256],
  memory_mib: [128, 4 * 1024 * 1024],
  size_gib: [1, 65536],
} as const;

/** Why this VM cannot be cloned now, or null: the agent copies disks only of a shut-off VM. */
export function cloneBlocked(vm: VM): string | null {
  if (vm.state === 'shutoff') return null;
  return `Shut ${vm.name} off to clone it: it is ${vm.state}, and a VM's disks are copied only while it is shut off.`;
}

/** Why a clone's name would be refused, or null. `taken`: the names of the VMs on its host. */
export function cloneNameProblem(name: string, taken: readonly string[]): string | null {
  if (name === '') return 'Give the clone a name.';
  if (name.length > MAX_CLONE_NAME || !CLONE_NAME.test(name)) {
    return `A name is 1 to ${MAX_CLONE_NAME} letters, digits, '.', '_' or '-', starting with a letter or digit.`;
  }
  if (taken.includes(name)) return `This host already has a VM named '${name}'.`;
  return null;
}

/** A disk as vm.detail reports it. */
export interface DiskNow {
  target: string;
  capacity_bytes: number;
}

/** What the resize form holds: each field as typed. */
export interface ResizeFields {
  vcpus: string;
  memory_mib: string;
  /** By disk target: the size in GiB. */
  disks: Record<string, string>;
}

/** The form as it opens: the VM's sizes now (a disk's rounded up to whole GiB). */
export function resizeFieldsOf(vm: VM, disks: readonly DiskNow[]): ResizeFields {
  return {
    vcpus: String(vm.vcpus),
    memory_mib: String(Math.round(vm.memory_kib / 1024)),
    disks: Object.fromEntries(disks.map((disk) => [disk.target, String(Math.ceil(disk.capacity_bytes / GIB))])),
  };
}

function whole(text: string, [low, high]: readonly [number, number]): number | string {
  const trimmed = text.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!(value >= low && value <= high)) return `must be a whole number from ${low} to ${high}.`;
  return value;
}

export interface ResizePlan {
  /** What to send; null when something is refused or nothing changes. */
  change: ResizeChange | null;
  /** Why, by field ("vcpus", "memory_mib", "disks.vda"), and '' for the whole form. */
  errors: Record<string, string>;
}

/**
 * The resize to send from the form: only the fields changed from what it opened with (so a disk of
 * 16 MiB shown as 1 GiB is not grown unasked), each within bounds, disks never smaller.
 */
export function resizePlan(vm: VM, disks: readonly DiskNow[], fields: ResizeFields): ResizePlan {
  const opened = resizeFieldsOf(vm, disks);
  const errors: Record<string, string> = {};
  const change: ResizeChange = {};
  const vcpus = whole(fields.vcpus, RESIZE_LIMITS.vcpus);
  if (typeof vcpus === 'string') errors.vcpus = vcpus;
  else if (String(vcpus) !== opened.vcpus) change.vcpus = vcpus;
  const memory = whole(fields.memory_mib, RESIZE_LIMITS.memory_mib);
  if (typeof memory === 'string') errors.memory_mib = memory;
  else if (String(memory) !== opened.memory_mib) change.memory_mib = memory;
  const grown: Array<{ target: string; size_gib: number }> = [];
  for (const disk of disks) {
    const text = fields.disks[disk.target] ?? '';
    if (text.trim() === opened.disks[disk.target]) continue;
    const size = whole(text, RESIZE_LIMITS.size_gib);
    if (typeof size === 'string') errors[`disks.${disk.target}`] = size;
    else if (size * GIB < disk.capacity_bytes) errors[`disks.${disk.target}`] = shrinkRefusal(disk);
    else if (size * GIB > disk.capacity_bytes) grown.push({ target: disk.target, size_gib: size });
  }
  if (grown.length > 0) change.disks = grown;
  if (Object.keys(errors).length > 0) return { change: null, errors };
  if (Object.keys(change).length === 0) return { change: null, errors: { '': 'Nothing to change: every size is as it is now.' } };
  return { change, errors };
}

/** Why a smaller disk is refused, with the least it may be. */
export function shrinkRefusal(disk: DiskNow): string {
  const least = Math.ceil(disk.capacity_bytes / GIB);
  return `Disks only grow: ${disk.target} is ${formatBytes(disk.capacity_bytes)} now, so ${least} GiB or more.`;
}

/** A finished resize's `data.applies`, in words. */
export function appliesWords(data: unknown): string {
  const applies = (data as { applies?: unknown } | null)?.applies;
  if (applies === 'next_boot') {
    return 'The VM is running: its new vCPUs and memory take effect at its next boot (disks grew at once).';
  }
  if (applies === 'now') return 'Applied now.';
  return 'Done (the host did not say when it applies).';
}

/** The disks vm.detail reported that can grow: writable disks (no CD-ROM) with a target and a size. */
export function disksOf(detail: unknown): DiskNow[] {
  const disks = (detail as { disks?: unknown } | null)?.disks;
  if (!Array.isArray(disks)) return [];
  return disks
    .filter((disk): disk is VmDisk => typeof disk === 'object' && disk !== null)
    .filter((disk) => (disk.device ?? 'disk') === 'disk' && !disk.readonly)
    .filter((disk) => typeof disk.target === 'string' && typeof disk.capacity_bytes === 'number')
    .map((disk) => ({ target: disk.target as string, capacity_bytes: disk.capacity_bytes as number }));
}
