import { describe, expect, it } from 'vitest';
import {
  CHARTS,
  chartData,
  emptySeries,
  formatValue,
  latestValue,
  liveOf,
  mergeSeries,
  seriesOf,
  timeline,
  type Series,
  type VmMetrics,
} from './vmMetrics';

const NOW = 1_800_000_000;

function series(points: Record<number, number | null>): Series {
  const s = emptySeries();
  for (const [t, cpu] of Object.entries(points).sort(([a], [b]) => Number(a) - Number(b))) {
    s.t.push(Number(t));
    s.cpu.push(cpu);
    s.memory.push(1024);
    s.memory_used.push(512);
    s.disk_read.push(cpu === null ? null : cpu * 10);
    s.disk_write.push(0);
    s.net_rx.push(null);
    s.net_tx.push(7);
  }
  return s;
}

function answer(points: Record<number, number | null>): VmMetrics {
  return { ...series(points), vm_uuid: 'u', range: 'hour', from: NOW - 3600, to: NOW, step: 60, objects: 1, skipped: 0 };
}

const cpuChart = CHARTS.find((c) => c.id === 'cpu')!;
const memoryChart = CHARTS.find((c) => c.id === 'memory')!;
const diskChart = CHARTS.find((c) => c.id === 'disk')!;

describe('seriesOf', () => {
  it('keeps well-formed columns and refuses ragged or non-numeric ones', () => {
    expect(seriesOf(series({ [NOW]: 5 })).cpu).toEqual([5]);
    expect(seriesOf({ ...series({ [NOW]: 5 }), cpu: [] }).t).toEqual([]);
    expect(seriesOf({ ...series({ [NOW]: 5 }), net_tx: ['7'] }).t).toEqual([]);
    expect(seriesOf({ ...series({ [NOW]: 5 }), t: [Infinity] }).t).toEqual([]);
    expect(seriesOf(null).t).toEqual([]);
    expect(seriesOf('x').t).toEqual([]);
  });
});

describe('mergeSeries and timeline', () => {
  it('merges by time in order, a later part winning a time both have', () => {
    const merged = mergeSeries(series({ [NOW - 60]: 1, [NOW]: 2 }), series({ [NOW - 30]: 3, [NOW]: 4 }));
    expect(merged.t).toEqual([NOW - 60, NOW - 30, NOW]);
    expect(merged.cpu).toEqual([1, 3, 4]);
    expect(merged.net_tx).toEqual([7, 7, 7]);
  });

  it('adds the points the host has not uploaded, and in the last hour its fine live samples', () => {
    const live = liveOf({ vm_uuid: 'u', step: 5, live: series({ [NOW - 5]: 80, [NOW]: 90 }), pending: series({ [NOW - 120]: 40 }) });
    expect(live).not.toBeNull();
    const hour = timeline('hour', answer({ [NOW - 600]: 10 }), live, NOW);
    expect(hour.t).toEqual([NOW - 600, NOW - 120, NOW - 5, NOW]);
    expect(hour.cpu).toEqual([10, 40, 80, 90]);
    const day = timeline('day', answer({ [NOW - 600]: 10 }), live, NOW);
    expect(day.cpu).toEqual([10, 40]); // no 5 s samples on a day's chart
  });

  it('drops what is older than the range and shows nothing before the first answer', () => {
    expect(timeline('hour', answer({ [NOW - 4000]: 1, [NOW - 100]: 2 }), null, NOW).cpu).toEqual([2]);
    expect(timeline('week', null, null, NOW).t).toEqual([]);
  });

  it('refuses a live object that is not one', () => {
    expect(liveOf({ step: 5 })).toBeNull();
    expect(liveOf({ vm_uuid: 'u', step: 5, live: 'x' })?.live.t).toEqual([]);
  });
});

describe('chartData', () => {
  it('gives uPlot aligned columns: time, then each line in its unit, gaps as null', () => {
    const s = series({ [NOW - 60]: null, [NOW]: 25 });
    expect(chartData(s, cpuChart)).toEqual([[NOW - 60, NOW], [null, 25]]);
    expect(chartData(s, memoryChart)).toEqual([[NOW - 60, NOW], [512 * 1024, 512 * 1024], [1024 * 1024, 1024 * 1024]]);
    expect(chartData(s, diskChart)).toEqual([[NOW - 60, NOW], [null, 250], [0, 0]]);
  });

  it('names the latest known value of a chart in words', () => {
    const s = series({ [NOW - 60]: 12.5, [NOW]: null });
    expect(formatValue(latestValue(s, cpuChart), 'percent')).toBe('12.5 %');
    expect(formatValue(latestValue(s, memoryChart), 'bytes')).toBe('512 KiB');
    expect(formatValue(1536 * 1024, 'bytes_per_second')).toBe('1.5 MiB/s');
    expect(formatValue(latestValue(emptySeries(), cpuChart), 'percent')).toBe('—');
  });
});
