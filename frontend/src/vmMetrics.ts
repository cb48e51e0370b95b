// A VM's statistics as its page charts them: the series the API assembles
// from the host's hourly batches (GET …/vms/{vm}/metrics), and, while
// the page is watched, the host's live object (fine 5 s samples plus the
// batch points it has not uploaded yet), merged into one timeline.
// Pure functions: the store (state/vmMetrics.ts) fetches, the chart draws.

export type MetricsRange = 'hour' | 'day' | 'week';

export const RANGES: ReadonlyArray<{ range: MetricsRange; label: string; seconds: number }> = [
  { range: 'hour', label: 'Last hour', seconds: 3600 },
  { range: 'day', label: 'Last day', seconds: 86_400 },
  { range: 'week', label: 'Last week', seconds: 7 * 86_400 },
];

export const METRICS = ['cpu', 'memory', 'memory_used', 'disk_read', 'disk_write', 'net_rx', 'net_tx'] as const;
export type Metric = (typeof METRICS)[number];

/** Columns: `t` in Unix seconds, one value per metric and time, null where libvirt said nothing. */
export type Series = { t: number[] } & Record<Metric, Array<number | null>>;

/** GET /api/agents/{id}/vms/{vm}/metrics */
export interface VmMetrics extends Series {
  vm_uuid: string;
  range: MetricsRange;
  from: number;
  to: number;
  step: number;
  objects: number;
  skipped: number;
}

/** POST …/metrics/live: where the live object is read, until when the host samples; live null: it cannot. */
export interface LiveWatch {
  live: { url: string; step: number } | null;
  until: number | null;
}

/** The live object the host puts while watched. */
export interface LiveMetrics {
  vm_uuid: string;
  step: number;
  live: Series;
  pending: Series;
}

export function emptySeries(): Series {
  return { t: [], cpu: [], memory: [], memory_used: [], disk_read: [], disk_write: [], net_rx: [], net_tx: [] };
}

function isNumberOrNull(value: unknown): value is number | null {
  return value === null || (typeof value === 'number' && Number.isFinite(value));
}

/** The columns of anything shaped like a series; an empty one if it is not (a host is not trusted). */
export function seriesOf(value: unknown): Series {
  if (typeof value !== 'object' || value === null) return emptySeries();
  const record = value as Record<string, unknown>;
  const t = record.t;
  if (!Array.isArray(t) || !t.every((x) => typeof x === 'number' && Number.isFinite(x))) return emptySeries();
  const series = { t: t as number[] } as Series;
  for (const metric of METRICS) {
    const column = record[metric];
    if (!Array.isArray(column) || column.length !== t.length || !column.every(isNumberOrNull)) return emptySeries();
    series[metric] = column as Array<number | null>;
  }
  return series;
}

/** The live object's parts, checked; null when it is not one. */
export function liveOf(value: unknown): LiveMetrics | null {
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.vm_uuid !== 'string' || typeof record.step !== 'number') return null;
  return { vm_uuid: record.vm_uuid, step: record.step, live: seriesOf(record.live), pending: seriesOf(record.pending) };
}

/** One timeline from several series, sorted by time; a later part wins a time both have. */
export function mergeSeries(...parts: Series[]): Series {
  const byTime = new Map<number, Array<number | null>>();
  for (const part of parts) {
    part.t.forEach((t, i) => byTime.set(t, METRICS.map((metric) => part[metric][i])));
  }
  const merged = emptySeries();
  for (const t of [...byTime.keys()].sort((a, b) => a - b)) {
    merged.t.push(t);
    byTime.get(t)!.forEach((value, i) => merged[METRICS[i]].push(value));
  }
  return merged;
}

/** Only the points from `from` on (Unix seconds). */
export function since(series: Series, from: number): Series {
  const keep = series.t.map((t) => t >= from);
  const cut = emptySeries();
  cut.t = series.t.filter((_, i) => keep[i]);
  for (const metric of METRICS) cut[metric] = series[metric].filter((_, i) => keep[i]);
  return cut;
}

/**
 * What the charts show for a range: the server's series, and, while the
 * page is watched, the points the host has not uploaded yet; the last hour
 * also shows the fine live samples.
 */
export function timeline(range: MetricsRange, answer: VmMetrics | null, live: LiveMetrics | null, nowSec: number): Series {
  const parts = [answer ? seriesOf(answer) : emptySeries()];
  if (live) parts.push(live.pending);
  if (live && range === 'hour') parts.push(live.live);
  const seconds = RANGES.find((r) => r.range === range)!.seconds;
  return since(mergeSeries(...parts), nowSec - seconds);
}

export type Unit = 'percent' | 'bytes' | 'bytes_per_second';

export interface ChartSpec {
  id: 'cpu' | 'memory' | 'disk' | 'network';
  title: string;
  unit: Unit;
  lines: ReadonlyArray<{ metric: Metric; label: string; scale?: number }>;
}

export const CHARTS: readonly ChartSpec[] = [
  { id: 'cpu', title: 'CPU', unit: 'percent', lines: [{ metric: 'cpu', label: 'CPU (% of its vCPUs)' }] },
  {
    id: 'memory',
    title: 'Memory',
    unit: 'bytes',
    lines: [
      { metric: 'memory_used', label: 'used', scale: 1024 },
      { metric: 'memory', label: 'assigned', scale: 1024 },
    ],
  },
  {
    id: 'disk',
    title: 'Disk I/O',
    unit: 'bytes_per_second',
    lines: [
      { metric: 'disk_read', label: 'read' },
      { metric: 'disk_write', label: 'write' },
    ],
  },
  {
    id: 'network',
    title: 'Network I/O',
    unit: 'bytes_per_second',
    lines: [
      { metric: 'net_rx', label: 'received' },
      { metric: 'net_tx', label: 'sent' },
    ],
  },
];

/** uPlot's aligned data for one chart: x (seconds), then one column per line, in the line's unit. */
export function chartData(series: Series, spec: ChartSpec): Array<Array<number | null>> {
  return [
    series.t,
    ...spec.lines.map(({ metric, scale = 1 }) => series[metric].map((v) => (v === null ? null : v * scale))),
  ];
}

/** The latest known value of one of the chart's lines (the first by default), in the chart's unit. */
export function latestValue(series: Series, spec: ChartSpec, line = 0): number | null {
  const { metric, scale = 1 } = spec.lines[line];
  for (let i = series.t.length - 1; i >= 0; i--) {
    const value = series[metric][i];
    if (value !== null) return value * scale;
  }
  return null;
}

/** A value for people in the chart's unit: "12.5 %", "1.5 GiB", "340 KiB/s". */
export function formatValue(value: number | null, unit: Unit): string {
  if (value === null) return '—';
  if (unit === 'percent') return `${value.toFixed(1)} %`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = Math.abs(value);
  let i = 0;
  while (scaled >= 1024 && i < units.length - 1) {
    scaled /= 1024;
    i++;
  }
  const text = `${Math.sign(value) < 0 ? '-' : ''}${scaled >= 100 || i === 0 ? Math.round(scaled) : scaled.toFixed(1)} ${units[i]}`;
  return unit === 'bytes_per_second' ? `${text}/s` : text;
}
