// A status word on a tinted pill. The word itself is the information; the
// colour only repeats it.

type Tone = 'ok' | 'warn' | 'bad' | 'busy' | 'muted';
export type BadgeKind = 'host' | 'vm' | 'job' | 'console';

const TONES: Record<BadgeKind, Record<string, Tone>> = {
  host: { online: 'ok', stale: 'warn', lost: 'bad', pending: 'warn', no_hypervisor: 'bad' },
  vm: {
    running: 'ok',
    paused: 'warn',
    pmsuspended: 'warn',
    blocked: 'warn',
    shutdown: 'busy',
    crashed: 'bad',
    shutoff: 'muted',
    nostate: 'muted',
  },
  job: {
    queued: 'busy',
    claimed: 'busy',
    running: 'busy',
    succeeded: 'ok',
    failed: 'bad',
    timed_out: 'bad',
    cancelled: 'muted',
    expired: 'muted',
  },
  console: { connecting: 'busy', opening: 'busy', open: 'ok', closing: 'busy', closed: 'muted' },
};

export function toneOf(kind: BadgeKind, status: string): Tone {
  return TONES[kind][status] ?? 'muted';
}

interface Props {
  kind: BadgeKind;
  status: string;
  testId?: string;
  /** Words to show instead of the status (e.g. "cancelling…"); the tint still follows the status. */
  label?: string;
}

export function StatusBadge({ kind, status, testId, label }: Props) {
  return (
    <span class={`badge badge-${toneOf(kind, status)}`} data-testid={testId}>
      {label ?? status}
    </span>
  );
}
