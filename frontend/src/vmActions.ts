// Which lifecycle actions apply to a VM in a given state.

import type { Snapshot, VmAction, VmState } from './types';

export interface ActionSpec {
  action: VmAction;
  label: string;
  appliesTo: readonly VmState[];
  /** What pressing it loses, for an action that asks first. */
  loses?: string;
}

/** What a power cut loses: force stop and reset both do this to the guest. */
const POWER_CUT = 'The guest gets no chance to shut down: whatever it has not written to disk is lost.';

/** In the order the buttons appear. */
export const VM_ACTIONS: readonly ActionSpec[] = [
  { action: 'start', label: 'Start', appliesTo: ['shutoff', 'crashed'] },
  { action: 'shutdown', label: 'Shutdown', appliesTo: ['running'] },
  { action: 'force-stop', label: 'Force stop', appliesTo: ['running', 'paused'], loses: POWER_CUT },
  { action: 'reboot', label: 'Reboot', appliesTo: ['running'] },
  { action: 'suspend', label: 'Suspend', appliesTo: ['running'] },
  { action: 'resume', label: 'Resume', appliesTo: ['paused'] },
];

export function actionApplies(action: VmAction, state: VmState): boolean {
  const spec = VM_ACTIONS.find((s) => s.action === action);
  return spec !== undefined && spec.appliesTo.includes(state);
}

export function enabledActions(state: VmState): VmAction[] {
  return VM_ACTIONS.filter((s) => s.appliesTo.includes(state)).map((s) => s.action);
}

/** A hard reset applies to a VM whose vCPUs exist: running or paused. */
export const RESET_STATES: readonly VmState[] = ['running', 'paused'];

/** What a reset loses (it restarts the VM at once). */
export const RESET_LOSES = `It restarts at once, like pressing a reset switch. ${POWER_CUT}`;

/** `timeout_seconds` of a shutdown: a whole number 1..3600, else null. */
export function shutdownTimeout(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const seconds = Number(trimmed);
  return seconds >= 1 && seconds <= 3600 ? seconds : null;
}

/** vm.snapshot_list's `data` as a list, whatever arrived (unknown entries dropped). */
export function snapshotsOf(data: unknown): Snapshot[] {
  const list = (data as { snapshots?: unknown } | null)?.snapshots;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (s): s is Snapshot => typeof s === 'object' && s !== null && typeof (s as Snapshot).name === 'string',
  );
}

/** A VM whose domain is active has a serial console to open (shut off or crashed: none). */
export const CONSOLE_STATES: readonly VmState[] = ['running', 'paused', 'blocked', 'pmsuspended', 'shutdown'];
