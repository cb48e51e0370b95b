// Turning API values into words and numbers for people.

import type { Agent, Capabilities, ConsoleClosedReason, ConsoleStatus } from './types';

const MEMORY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** 524288 → "512 MiB", 1572864 → "1.5 GiB". */
export function formatMemory(kib: number): string {
  let value = kib;
  let unit = 0;
  while (value >= 1024 && unit < MEMORY_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${rounded} ${MEMORY_UNITS[unit]}`;
}

/** A size in bytes: 900 → "900 B", 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : formatMemory(bytes / 1024);
}

/** How long ago `thenMs` was, e.g. "12s ago", "5m ago", "3h ago", "2d ago". */
export function formatAgo(thenMs: number | null, nowMs: number): string {
  if (thenMs === null || thenMs <= 0) return 'never';
  const seconds = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ago`;
  return `${Math.floor(hours / 24)}d ago`;
}

/** Why a VM is in its state, for people: "from_snapshot" → "from snapshot"; nothing when unknown. */
export function reasonWords(reason: string | null | undefined): string {
  if (!reason || reason === 'unknown') return '';
  return reason.replaceAll('_', ' ');
}

/** A VM's autostart as a word; null when its agent did not say. */
export function autostartWord(autostart: boolean | null | undefined): string {
  if (autostart === null || autostart === undefined) return 'unknown';
  return autostart ? 'on' : 'off';
}

export interface Fact {
  label: string;
  value: string;
}

// Capability keys worth a label of their own, in display order. Whatever else
// the host reports with a plain value follows under its own key.
const KNOWN_CAPABILITIES: ReadonlyArray<[string, string]> = [
  ['hypervisor', 'Hypervisor'],
  ['hypervisor_version', 'Hypervisor version'],
  ['libvirt_version', 'libvirt'],
  ['arch', 'Architecture'],
  ['cpus', 'CPUs'],
  ['memory_kib', 'Memory'],
  ['uri', 'URI'],
  ['serial_console', 'Serial console'],
];

const MAX_FACTS = 8;
/** Reported for the control plane's own use, not facts about the hypervisor. */
const NOT_FACTS = new Set(['waiting_on', 'hypervisor_available', 'hypervisor_error', 'hypervisor_message',
  'cpu_used_percent', 'memory_total_kib', 'memory_free_kib']);

function plainValue(key: string, value: unknown): string | null {
  if (key === 'memory_kib' && typeof value === 'number') return formatMemory(value);
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** The host's capabilities as label/value pairs (plain values only). */
export function hypervisorFacts(capabilities: Capabilities | null | undefined): Fact[] {
  if (!capabilities) return [];
  const known = new Map(KNOWN_CAPABILITIES);
  const keys = [
    ...KNOWN_CAPABILITIES.map(([key]) => key).filter((key) => key in capabilities),
    ...Object.keys(capabilities).filter((key) => !known.has(key) && !NOT_FACTS.has(key)),
  ];
  const facts: Fact[] = [];
  for (const key of keys) {
    const value = plainValue(key, capabilities[key]);
    if (value !== null) facts.push({ label: known.get(key) ?? key, value });
  }
  return facts.slice(0, MAX_FACTS);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A moment in local time, e.g. "2023-11-14 22:13:20"; `empty` for none. */
export function formatTime(ms: number | null | undefined, empty = 'never'): string {
  if (ms === null || ms === undefined || ms <= 0) return empty;
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** A wait in seconds for people: "45 seconds", "2 minutes", "1 hour". */
export function formatWait(seconds: number): string {
  if (seconds < 60) return plural(Math.max(1, Math.ceil(seconds)), 'second');
  if (seconds < 3600) return plural(Math.ceil(seconds / 60), 'minute');
  return plural(Math.ceil(seconds / 3600), 'hour');
}

/** Local midnight at the start of a `YYYY-MM-DD` date (an `<input type=date>` value). */
export function startOfDayMs(date: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return null;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])).getTime();
}

/** The last millisecond of a `YYYY-MM-DD` date in local time. */
export function endOfDayMs(date: string): number | null {
  const start = startOfDayMs(date);
  if (start === null) return null;
  const d = new Date(start);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime() - 1;
}

/** Any JSON value as one line of text (audit actors and targets may be objects). */
export function plainText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** An uptime in seconds: 59 → "59s", 3700 → "1h 1m", 90000 → "1d 1h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes}m ${s % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

const CLOSED_BECAUSE: Record<ConsoleClosedReason, string> = {
  requested: 'someone closed it',
  idle: 'nobody was watching it',
  vm_stopped: 'the VM stopped or its serial console went away',
  console_busy: "another console holds the VM's serial port",
  error: "the host's agent could not keep it open",
  agent_lost: "the host's agent stopped answering",
};

/** A console session's state in words, with why it closed: "Closed: the VM stopped …". */
export function consoleStatusWords(status: ConsoleStatus | null, reason: ConsoleClosedReason | null): string {
  switch (status) {
    case null:
      return 'Connecting…';
    case 'opening':
      return 'Opening: waiting for the host to attach the console…';
    case 'open':
      return 'Open';
    case 'closing':
      return 'Closing…';
    case 'closed':
      return reason && reason in CLOSED_BECAUSE ? `Closed: ${CLOSED_BECAUSE[reason]}.` : 'Closed.';
  }
}

// The agent's exit codes (docs/protocol.md); 2 and 124 are retried while attempts are left, 1 and 3 never.
const EXIT_MEANINGS: Record<number, string> = {
  0: 'succeeded',
  1: 'invalid input',
  2: 'transient failure',
  3: 'needs an operator',
  124: 'timed out',
};

/** A job's exit code with its meaning, "3 · needs an operator"; "—" before the job has one. */
export function exitCodeWords(code: number | null | undefined): string {
  if (code === null || code === undefined) return '—';
  const meaning = EXIT_MEANINGS[code];
  return meaning ? `${code} · ${meaning}` : String(code);
}

/**
 * Why an online host costs Lambda time: its agent waits for jobs in the API's long poll rather than on its
 * own queue (an agent too old for the queue, which reports nothing, or one whose queue is out of reach).
 * Null when it waits on its queue, or is not online.
 */
/**
 * Why an online host cannot manage VMs: its agent runs and reports, but cannot reach libvirt (a stopped
 * libvirtd, polkit refusing the agent's user). Null when it can, or when it is not online (its status says
 * enough then). Such a host is a problem, never plain "online" (issue 19).
 */
export function hypervisorProblem(agent: Agent): string | null {
  if (agent.status !== 'online' || agent.capabilities?.hypervisor_available !== false) return null;
  const said = agent.capabilities.hypervisor_message ?? agent.capabilities.hypervisor_error;
  const why = typeof said === 'string' && said !== '' ? `: ${said}` : '';
  return `Its agent runs but cannot reach the hypervisor${why}. It lists and manages no VMs until that is fixed; `
    + 'on the host, `fleetvisor-agent status` and `journalctl -u fleetvisor-agent` say more.';
}

export function costlyWait(agent: Agent): string | null {
  if (agent.status !== 'online' || agent.capabilities?.waiting_on === 'queue') return null;
  const why = agent.capabilities?.waiting_on === 'api'
    ? 'its agent cannot reach its own queue right now'
    : 'its agent is too old to wait on its own queue; upgrade it';
  return `Waits for jobs in the API (${why}): an idle host costs about $22 a month this way, cents on its queue.`;
}
