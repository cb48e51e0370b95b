import { describe, expect, it } from 'vitest';
import { aVm } from './test/fixtures';
import { appliesWords, cloneBlocked, cloneNameProblem, disksOf, GIB, resizeFieldsOf, resizePlan } from './vmSizing';

const VM = aVm({ vcpus: 2, memory_kib: 2048 * 1024 });
const DISKS = [{ target: 'vda', capacity_bytes: 20 * GIB }, { target: 'vdb', capacity_bytes: 16 * 1024 * 1024 }];

describe('clone', () => {
  it('is offered only for a shut-off VM, and says why otherwise', () => {
    expect(cloneBlocked(aVm({ state: 'shutoff' }))).toBeNull();
    expect(cloneBlocked(aVm({ state: 'running' }))).toMatch(/Shut web1 off to clone it: it is running/);
    expect(cloneBlocked(aVm({ state: 'paused' }))).toMatch(/it is paused/);
  });

  it('takes a name as the server does: 1 to 64 of letters, digits and ._- and not one the host has', () => {
    expect(cloneNameProblem('web1-copy', ['web1'])).toBeNull();
    expect(cloneNameProblem('a'.repeat(64), [])).toBeNull();
    expect(cloneNameProblem('', [])).toMatch(/Give the clone a name/);
    expect(cloneNameProblem('a'.repeat(65), [])).toMatch(/1 to 64 letters/);
    expect(cloneNameProblem('web 2', [])).toMatch(/1 to 64 letters/);
    expect(cloneNameProblem('-web', [])).toMatch(/starting with a letter or digit/);
    expect(cloneNameProblem('web1', ['web1'])).toBe("This host already has a VM named 'web1'.");
  });
});

describe('resize', () => {
  it('opens with the sizes now, a disk rounded up to whole GiB', () => {
    expect(resizeFieldsOf(VM, DISKS)).toEqual({ vcpus: '2', memory_mib: '2048', disks: { vda: '20', vdb: '1' } });
  });

  it('sends only what changed from what the form opened with', () => {
    const fields = { vcpus: '4', memory_mib: '2048', disks: { vda: '30', vdb: '1' } };
    expect(resizePlan(VM, DISKS, fields)).toEqual({
      change: { vcpus: 4, disks: [{ target: 'vda', size_gib: 30 }] }, // vdb, 16 MiB shown as 1 GiB, is left alone
      errors: {},
    });
    const memory = resizePlan(VM, DISKS, { vcpus: '2', memory_mib: ' 4096 ', disks: { vda: '20', vdb: '2' } });
    expect(memory.change).toEqual({ memory_mib: 4096, disks: [{ target: 'vdb', size_gib: 2 }] });
    const odd = aVm({ vcpus: 2, memory_kib: 1_000_000 }); // not whole MiB: shown rounded, not sent unless changed
    expect(resizePlan(odd, [], resizeFieldsOf(odd, [])).change).toBeNull();
  });

  it('refuses a smaller disk, naming the least it may be, and sends nothing', () => {
    const plan = resizePlan(VM, DISKS, { vcpus: '4', memory_mib: '2048', disks: { vda: '10', vdb: '1' } });
    expect(plan.change).toBeNull();
    expect(plan.errors).toEqual({ 'disks.vda': 'Disks only grow: vda is 20 GiB now, so 20 GiB or more.' });
  });

  it('refuses what the server would, by field, and an unchanged form', () => {
    const plan = resizePlan(VM, DISKS, { vcpus: '0', memory_mib: '64', disks: { vda: 'x', vdb: '1' } });
    expect(plan.change).toBeNull();
    expect(plan.errors).toEqual({
      vcpus: 'must be a whole number from 1 to 256.',
      memory_mib: 'must be a whole number from 128 to 4194304.',
      'disks.vda': 'must be a whole number from 1 to 65536.',
    });
    expect(resizePlan(VM, [], { vcpus: '2', memory_mib: '2048', disks: {} })).toEqual({
      change: null,
      errors: { '': 'Nothing to change: every size is as it is now.' },
    });
  });

  it('says when the change applies, from the job result', () => {
    expect(appliesWords({ applies: 'now', disks: [] })).toBe('Applied now.');
    expect(appliesWords({ applies: 'next_boot', disks: [] })).toMatch(/take effect at its next boot/);
    expect(appliesWords(null)).toMatch(/did not say/);
  });

  it('grows only writable disks that report a size', () => {
    const detail = {
      disks: [
        { target: 'vda', device: 'disk', capacity_bytes: 5 },
        { target: 'sda', device: 'cdrom', capacity_bytes: 7, readonly: true },
        { target: 'vdb', device: 'disk', readonly: true, capacity_bytes: 9 },
        { target: null, device: 'disk', capacity_bytes: 1 },
        { target: 'vdc', device: 'disk', capacity_bytes: null },
      ],
    };
    expect(disksOf(detail)).toEqual([{ target: 'vda', capacity_bytes: 5 }]);
    expect(disksOf(null)).toEqual([]);
  });
});
