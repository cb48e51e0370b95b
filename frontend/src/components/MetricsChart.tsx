// One time-series chart of a VM's page (uPlot: small, fast, canvas-drawn,
// bundled with the app in a chunk of its own that only this page loads). The
// chart is made once and fed new data in place; its width follows its
// container. The heading names the latest value, and the figure carries it
// (data-latest, data-points) for people and tests.

import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import { chartData, formatValue, latestValue, type ChartSpec, type Series } from '../vmMetrics';

/** uPlot and its style sheet, loaded once; null where it cannot draw (no canvas: a test's DOM). */
let loading: Promise<typeof uPlot | null> | null = null;
function loadUPlot(): Promise<typeof uPlot | null> {
  loading ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')])
    .then(([module]) => module.default)
    .catch(() => null);
  return loading;
}

const COLOURS = ['#2563eb', '#d97706'];
const HEIGHT = 180;

interface Props {
  spec: ChartSpec;
  series: Series;
}

function options(spec: ChartSpec, width: number): uPlot.Options {
  const format = (_u: uPlot, value: number | null) => formatValue(value, spec.unit);
  return {
    width,
    height: HEIGHT,
    legend: { show: true },
    scales: { y: spec.unit === 'percent' ? { range: [0, 100] } : { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    axes: [{}, { values: (u, ticks) => ticks.map((tick) => format(u, tick)), size: 80 }],
    series: [
      {},
      ...spec.lines.map((line, i) => ({ label: line.label, stroke: COLOURS[i % COLOURS.length], width: 1.5, value: format })),
    ],
  };
}

export function MetricsChart({ spec, series }: Props) {
  const holder = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const data = chartData(series, spec) as uPlot.AlignedData;

  const latestData = useRef(data);
  latestData.current = data;

  useEffect(() => {
    const element = holder.current;
    let cleanup = () => {};
    let gone = false;
    void loadUPlot().then((UPlot) => {
      if (gone || !element || !UPlot) return;
      let made: uPlot;
      try {
        made = new UPlot(options(spec, Math.max(200, element.clientWidth)), latestData.current, element);
      } catch {
        return; // no canvas to draw on (a test's DOM): the caption still names the latest value
      }
      chart.current = made;
      const resized = new ResizeObserver(() => made.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT }));
      resized.observe(element);
      cleanup = () => {
        resized.disconnect();
        made.destroy();
        chart.current = null;
      };
    });
    return () => {
      gone = true;
      cleanup();
    };
  }, [spec]);

  useEffect(() => {
    chart.current?.setData(data);
  }, [series]);

  const latest = latestValue(series, spec);
  return (
    <figure
      class="metrics-chart"
      data-testid={`chart-${spec.id}`}
      data-points={series.t.length}
      data-latest={latest === null ? '' : String(latest)}
    >
      <figcaption>
        {spec.title}{' '}
        {spec.lines.length === 1 && (
          <span class="muted" data-testid={`chart-${spec.id}-latest`}>
            {formatValue(latest, spec.unit)}
          </span>
        )}
        {spec.lines.length > 1 &&
          spec.lines.map((line, i) => {
            const value = latestValue(series, spec, i);
            return (
              <span key={line.metric} class="muted" data-metric={line.metric} data-value={value === null ? '' : String(value)}>
                {i > 0 ? ' · ' : ''}
                {line.label} {formatValue(value, spec.unit)}
              </span>
            );
          })}
      </figcaption>
      <div ref={holder} class="metrics-plot" />
      {series.t.length === 0 && <p class="muted">No samples in this range yet.</p>}
    </figure>
  );
}
