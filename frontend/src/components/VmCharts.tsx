// The graphs of a VM's page: CPU, memory, disk and network I/O over the last
// hour, day or week (state/vmMetrics.ts fetches; MetricsChart draws).

import { createVmMetricsStore, type MetricsApi, type VmMetricsOptions } from '../state/vmMetrics';
import { useNow, usePageStore } from '../state/useStore';
import { CHARTS, RANGES, timeline } from '../vmMetrics';
import { FormError } from './FormError';
import { MetricsChart } from './MetricsChart';

interface Props {
  api: MetricsApi;
  agentId: string;
  vmUuid: string;
  options?: VmMetricsOptions;
}

export function VmCharts({ api, agentId, vmUuid, options }: Props) {
  const [store, state] = usePageStore(() => createVmMetricsStore(api, agentId, vmUuid, options));
  const now = useNow(5000);
  const series = timeline(state.range, state.answer, state.live, Math.floor(now / 1000));
  const live = state.liveUntil !== null && state.liveUntil * 1000 > now;
  return (
    <section
      class="card vm-charts"
      aria-labelledby="vm-charts-title"
      data-testid="vm-charts"
      data-live-samples={state.live?.live.t.length ?? 0}
    >
      <header class="vm-charts-header">
        <h2 id="vm-charts-title">Graphs</h2>
        <div class="actions" role="group" aria-label="Time range">
          {RANGES.map(({ range, label }) => (
            <button
              key={range}
              type="button"
              data-range={range}
              aria-pressed={state.range === range}
              onClick={() => store.setRange(range)}
            >
              {label}
            </button>
          ))}
        </div>
        <span class="muted" data-testid="vm-charts-live">
          {live ? 'Live: sampled every 5 s while this page is open' : 'Sampled every minute, uploaded every hour'}
        </span>
      </header>
      <FormError message={state.error} />
      <div class="chart-grid">
        {CHARTS.map((spec) => (
          <MetricsChart key={spec.id} spec={spec} series={series} />
        ))}
      </div>
    </section>
  );
}
