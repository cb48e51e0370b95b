// Which lifecycle actions apply to a VM in a given state.

import type { VmAction, VmState } from './types';

export interface ActionSpec {
  action: VmAction;
  label: string;
  appliesTo: readonly VmState[];
}

/** In the order the buttons appear. */
export const VM_ACTIONS: readonly ActionSpec[] = [
  { action: 'start', label: 'Start', appliesTo: ['shutoff', 'crashed'] },
  { action: 'shutdown', label: 'Shutdown', appliesTo: ['running'] },
  { action: 'force-stop', label: 'Force stop', appliesTo: ['running', 'paused'] },
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
