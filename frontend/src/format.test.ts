import { describe, expect, it } from 'vitest';
import {
  consoleStatusWords,
  costlyWait,
  endOfDayMs,
  exitCodeWords,
  formatAgo,
  formatBytes,
  formatMemory,
  formatTime,
  formatWait,
  hypervisorFacts,
  hypervisorProblem,
  plainText,
  startOfDayMs,
} from './format';
import { anAgent } from './test/fixtures';
import type { Agent } from './types';

describe('formatMemory', () => {
  it.each([
    [512, '512 KiB'],
    [524288, '512 MiB'],
    [2097152, '2 GiB'],
    [1572864, '1.5 GiB'],
    [1073741824, '1 TiB'],
  ])('%i KiB reads %s', (kib, text) => {
    expect(formatMemory(kib)).toBe(text);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [900, '900 B'],
    [1536, '1.5 KiB'],
    [1048576, '1 MiB'],
  ])('%i bytes read %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('formatAgo', () => {
  const now = 1_700_000_100_000;

  it('counts seconds, then minutes, hours and days', () => {
    expect(formatAgo(now - 7_000, now)).toBe('7s ago');
    expect(formatAgo(now - 10 * 60_000, now)).toBe('10m ago');
    expect(formatAgo(now - 5 * 3_600_000, now)).toBe('5h ago');
    expect(formatAgo(now - 3 * 86_400_000, now)).toBe('3d ago');
  });

  it('never goes negative when the browser clock lags the server', () => {
    expect(formatAgo(now + 2_000, now)).toBe('0s ago');
  });

  it('says never for a host that was never seen', () => {
    expect(formatAgo(null, now)).toBe('never');
    expect(formatAgo(0, now)).toBe('never');
  });
});

describe('hypervisorFacts', () => {
  it('lists known capabilities first, labelled, and skips nested values', () => {
    const facts = hypervisorFacts({ cpus: 8, hypervisor: 'QEMU', domains: [1], memory_kib: 16777216, model: 'x' });
    expect(facts).toEqual([
      { label: 'Hypervisor', value: 'QEMU' },
      { label: 'CPUs', value: '8' },
      { label: 'Memory', value: '16 GiB' },
      { label: 'model', value: 'x' },
    ]);
  });

  it('is empty without capabilities', () => {
    expect(hypervisorFacts(null)).toEqual([]);
    expect(hypervisorFacts({})).toEqual([]);
  });

  it('does not list where the agent waits as a fact', () => {
    expect(hypervisorFacts({ cpus: 2, waiting_on: 'queue' })).toEqual([{ label: 'CPUs', value: '2' }]);
  });
});

describe('costlyWait', () => {
  const host = (status: Agent['status'], capabilities: Agent['capabilities']): Agent => ({
    agent_id: 'ag_1', name: 'h', hostname: '', environment: '', status, last_seen_ms: 1, enrolled_ms: 1,
    capabilities, console_unavailable: null, vm_count: 0, labels: {}, approval: 'approved', pending_reregistration: false,
    pending_since_ms: null,
  });

  it('says nothing of a host that waits on its own queue, or is not online', () => {
    expect(costlyWait(host('online', { waiting_on: 'queue' }))).toBeNull();
    expect(costlyWait(host('stale', { waiting_on: 'api' }))).toBeNull();
    expect(costlyWait(host('pending', null))).toBeNull();
  });

  it('names why an online host waits in the API, and what it costs', () => {
    expect(costlyWait(host('online', { waiting_on: 'api' }))).toContain('cannot reach its own queue');
    expect(costlyWait(host('online', { cpus: 2 }))).toContain('too old to wait on its own queue; upgrade it');
    expect(costlyWait(host('online', null))).toContain('$22 a month');
  });
});

describe('formatTime', () => {
  it('shows local date and time to the second, or a word for none', () => {
    const ms = new Date(2024, 0, 2, 3, 4, 5).getTime();
    expect(formatTime(ms)).toBe('2024-01-02 03:04:05');
    expect(formatTime(null)).toBe('never');
    expect(formatTime(null, '—')).toBe('—');
  });
});

describe('formatWait', () => {
  it('rounds a wait up to seconds, minutes or hours', () => {
    expect(formatWait(1)).toBe('1 second');
    expect(formatWait(45)).toBe('45 seconds');
    expect(formatWait(60)).toBe('1 minute');
    expect(formatWait(61)).toBe('2 minutes');
    expect(formatWait(7200)).toBe('2 hours');
  });
});

describe('day bounds', () => {
  it('turns a date field into the first and last millisecond of that local day', () => {
    expect(startOfDayMs('2024-03-05')).toBe(new Date(2024, 2, 5).getTime());
    expect(endOfDayMs('2024-03-05')).toBe(new Date(2024, 2, 6).getTime() - 1);
    expect(startOfDayMs('')).toBeNull();
    expect(endOfDayMs('yesterday')).toBeNull();
  });
});

describe('plainText', () => {
  it('shows strings as they are and anything else as JSON', () => {
    expect(plainText('<b>x</b>')).toBe('<b>x</b>');
    expect(plainText(3)).toBe('3');
    expect(plainText(null)).toBe('—');
    expect(plainText({ user_id: 'u1' })).toBe('{"user_id":"u1"}');
  });
});

describe('consoleStatusWords', () => {
  it('says what a console is doing, and why it closed', () => {
    expect(consoleStatusWords(null, null)).toBe('Connecting…');
    expect(consoleStatusWords('open', null)).toBe('Open');
    expect(consoleStatusWords('closing', 'requested')).toBe('Closing…');
    expect(consoleStatusWords('closed', 'console_busy')).toBe("Closed: another console holds the VM's serial port.");
    expect(consoleStatusWords('closed', 'agent_lost')).toBe("Closed: the host's agent stopped answering.");
    expect(consoleStatusWords('closed', null)).toBe('Closed.');
  });
});

describe('exitCodeWords', () => {
  it.each([
    [null, '—'],
    [0, '0 · succeeded'],
    [1, '1 · invalid input'],
    [2, '2 · transient failure'],
    [3, '3 · needs an operator'],
    [124, '124 · timed out'],
    [7, '7'],
  ])('%s reads %s', (code, text) => {
    expect(exitCodeWords(code)).toBe(text);
  });
});

describe('hypervisorProblem', () => {
  const down = { hypervisor_available: false, hypervisor_error: 'hypervisor_unavailable' };

  it("names libvirt's reason for an online host whose agent cannot reach it", () => {
    const agent = anAgent({ status: 'online', capabilities: { ...down, hypervisor_message: 'no polkit agent' } });
    expect(hypervisorProblem(agent)).toContain('cannot reach the hypervisor: no polkit agent.');
  });

  it('falls back to the code, and to nothing, when the agent sent no words', () => {
    expect(hypervisorProblem(anAgent({ status: 'online', capabilities: down }))).toContain(
      'cannot reach the hypervisor: hypervisor_unavailable.',
    );
    expect(hypervisorProblem(anAgent({ status: 'online', capabilities: { hypervisor_available: false } }))).toContain(
      'cannot reach the hypervisor. It lists',
    );
  });

  it('says nothing of a host that reaches it, of an old agent that does not say, or of a host not online', () => {
    expect(hypervisorProblem(anAgent({ status: 'online', capabilities: { hypervisor_available: true } }))).toBeNull();
    expect(hypervisorProblem(anAgent({ status: 'online', capabilities: {} }))).toBeNull();
    expect(hypervisorProblem(anAgent({ status: 'online', capabilities: null }))).toBeNull();
    expect(hypervisorProblem(anAgent({ status: 'stale', capabilities: down }))).toBeNull();
  });
});
