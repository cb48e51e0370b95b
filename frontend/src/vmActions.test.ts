import { describe, expect, it } from 'vitest';
import type { VmState } from './types';
import { actionApplies, enabledActions, shutdownTimeout, snapshotsOf } from './vmActions';

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

describe('shutdownTimeout', () => {
  it('takes whole seconds from 1 to 3600 only', () => {
    expect(['1', ' 90 ', '3600'].map(shutdownTimeout)).toEqual([1, 90, 3600]);
    expect(['', '0', '3601', '1.5', '-5', '1e3', 'ten'].map(shutdownTimeout)).toEqual(Array(7).fill(null));
  });
});

describe('snapshotsOf', () => {
  it('reads data.snapshots and drops what is not a snapshot', () => {
    const snap = { name: 's1', description: null, created_at: null, state: 'running', current: true };
    expect(snapshotsOf({ snapshots: [snap, { nope: 1 }, null] })).toEqual([snap]);
    expect(snapshotsOf(null)).toEqual([]);
    expect(snapshotsOf({ snapshots: 'x' })).toEqual([]);
  });
});
