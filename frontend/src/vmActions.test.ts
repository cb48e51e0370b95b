import { describe, expect, it } from 'vitest';
import type { VmState } from './types';
import { actionApplies, enabledActions } from './vmActions';

describe('enabledActions', () => {
  const cases: Array<[VmState, string[]]> = [
    ['shutoff', ['start']],
    ['crashed', ['start']],
    ['running', ['shutdown', 'force-stop', 'reboot', 'suspend']],
    ['paused', ['force-stop', 'resume']],
    ['pmsuspended', []],
    ['blocked', []],
    ['nostate', []],
    ['shutdown', []],
  ];

  it.each(cases)('a %s VM allows %j', (state, actions) => {
    expect(enabledActions(state)).toEqual(actions);
  });
});

describe('actionApplies', () => {
  it('allows resume only for a paused VM', () => {
    expect(actionApplies('resume', 'paused')).toBe(true);
    expect(actionApplies('resume', 'running')).toBe(false);
  });

  it('allows force-stop for running and paused VMs but not a stopped one', () => {
    expect(actionApplies('force-stop', 'running')).toBe(true);
    expect(actionApplies('force-stop', 'paused')).toBe(true);
    expect(actionApplies('force-stop', 'shutoff')).toBe(false);
  });
});
