// The VMs page (/vms): every VM of every host in one list (state/fleetList.ts),
// searched, filtered and sorted in the browser; the selection's bulk actions
// run as jobs with a live summary (state/bulkRun.ts).

import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Api } from '../api';
import { createBulkRuns, type BulkRuns, type BulkStep } from '../state/bulkRun';
import type { PageVisibility } from '../state/changeFeed';
import { vmKey } from '../state/fleet';
import { createFleetListStore } from '../state/fleetList';
import { useStore } from '../state/useStore';
import type { Agent, FleetVm, VmState } from '../types';
import { actionApplies } from '../vmActions';
import { BulkSummary } from './BulkSummary';
import {
  actionLabel,
  countWords,
  DESTRUCTIVE,
  FleetActionForm,
  labelsAfter,
  type FleetAction,
  type Pending,
  type PendingKind,
} from './FleetActionForm';
import { FleetTable } from './FleetTable';

const STATES: readonly VmState[] = ['running', 'paused', 'shutoff', 'crashed', 'pmsuspended', 'blocked', 'shutdown', 'nostate'];

type FleetPageApi = Pick<
  Api,
  'listFleet' | 'listAgents' | 'fleetFeed' | 'readFeed' | 'vmAction' | 'getJob' | 'getJobResult' | 'getVm' | 'updateVmLabels'
>;

/** Up to this many VMs in the runs on the page, each is read again when its job ends. */
const FETCH_AFTER_JOB = 20;

function activeVms(runs: BulkRuns): number {
  return runs.getState().runs.reduce((sum, run) => sum + run.items.length, 0);
}

interface Props {
  api: FleetPageApi;
  options?: { visibility?: PageVisibility };
}

/** What the bulk bar offers for a selection (a row's menu offers every action). */
const BULK: ReadonlyArray<{ kind: PendingKind; label: string }> = [
  { kind: 'start', label: 'Start' },
  { kind: 'shutdown', label: 'Shutdown' },
  { kind: 'snapshot', label: 'Snapshot…' },
  { kind: 'label', label: 'Label…' },
];

function HostOptions({ hosts }: { hosts: Agent[] }) {
  const sorted = [...hosts].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <>
      <option value="">All hosts</option>
      {sorted.map((host) => (
        <option key={host.agent_id} value={host.agent_id}>
          {host.name}
        </option>
      ))}
    </>
  );
}

export function FleetPage({ api, options }: Props) {
  const [list] = useState(() => createFleetListStore(api, options));
  // A few VMs acted on show their new state at once (one GET each); a bigger run waits for the reload the
  // change feed brings (at most 10 s on a big fleet), rather than reading every VM again one by one.
  const [runs] = useState(() =>
    createBulkRuns({
      getJob: api.getJob,
      onJobEnded: (vm, job) => {
        if (job.op.startsWith('vm.') && activeVms(runs) <= FETCH_AFTER_JOB) {
          api.getVm(vm.agent_id, vm.uuid).then(list.vmChanged, () => {});
        }
      },
    }),
  );
  const [pending, setPending] = useState<Pending | null>(null);
  useEffect(() => {
    list.start();
    return () => {
      list.stop();
      runs.stop();
    };
  }, [list, runs]);
  const state = useStore(list, list.getState);
  const { runs: bulkRuns } = useStore(runs, runs.getState);
  // The same vnode while the hosts are the same: a keystroke does not diff 500 options again.
  const hostStatus = useMemo(() => new Map(state.hosts.map((host) => [host.agent_id, host.status])), [state.hosts]);
  const hostOptions = useMemo(() => <HostOptions hosts={state.hosts} />, [state.hosts]);
  const { filters, selected } = state;
  const hidden = selected.size === 0 ? 0 : selected.size - state.shown.filter((vm) => selected.has(vmKey(vm.agent_id, vm.uuid))).length;

  function choose(kind: PendingKind, vms: FleetVm[]): void {
    if (vms.length === 0) return;
    if (kind === 'snapshot' || kind === 'label' || DESTRUCTIVE.has(kind)) return setPending({ kind, vms });
    run({ kind: 'power', action: kind }, vms);
  }

  function stepFor(action: FleetAction): BulkStep {
    switch (action.kind) {
      case 'power':
        return (vm) => api.vmAction(vm.agent_id, vm.uuid, action.action);
      case 'snapshot':
        return (vm) =>
          api.vmAction(vm.agent_id, vm.uuid, {
            action: 'snapshot-create',
            name: action.name,
            ...(action.description ? { description: action.description } : {}),
          });
      case 'label':
        return async (vm) => {
          list.vmChanged(await api.updateVmLabels(vm.agent_id, vm.uuid, labelsAfter(vm.labels, action)));
          return null;
        };
    }
  }

  function titleOf(action: FleetAction, vms: FleetVm[]): string {
    const what = action.kind === 'power' ? actionLabel(action.action) : action.kind === 'snapshot' ? `Snapshot ${action.name}` : 'Labels';
    return `${what}: ${countWords(vms)}`;
  }

  function run(action: FleetAction, vms: FleetVm[]): void {
    setPending(null);
    // A power action goes only to VMs it applies to (start to a running VM would fail); the rest show as skipped.
    const applies = action.kind === 'power' ? (vm: FleetVm) => actionApplies(action.action, vm.state) : undefined;
    void runs.run(titleOf(action, vms), vms, stepFor(action), applies);
  }

  return (
    <main class="layout fleet-page">
      <section aria-labelledby="fleet-title">
        <h1 id="fleet-title">VMs</h1>
        <div class="toolbar fleet-toolbar" role="search">
          <label class="fleet-search">
            <span class="visually-hidden">Search VMs</span>
            <input
              type="search"
              name="search"
              data-testid="fleet-search"
              placeholder="Search name, host, state, address, label=value…"
              autocomplete="off"
              spellcheck={false}
              value={filters.search}
              onInput={(e) => list.search(e.currentTarget.value)}
            />
          </label>
          <label>
            <span class="visually-hidden">State</span>
            <select name="state" value={filters.state} onChange={(e) => list.setFilters({ state: e.currentTarget.value as VmState | '' })}>
              <option value="">All states</option>
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span class="visually-hidden">Host</span>
            <select name="host" value={filters.agentId} onChange={(e) => list.setFilters({ agentId: e.currentTarget.value })}>
              {hostOptions}
            </select>
          </label>
          <p class="muted fleet-count" data-testid="fleet-count" aria-live="polite">
            {state.shown.length.toLocaleString()} of {state.total.toLocaleString()} VMs
            {state.loaded && !state.complete && !state.error ? ', loading…' : ''}
          </p>
        </div>
        {state.error && (
          <p class="error" role="alert" data-testid="fleet-error">
            {state.error}
          </p>
        )}
        {selected.size > 0 && (
          <div class="toolbar bulk-bar" data-testid="bulk-bar" role="group" aria-label="Selected VMs">
            <strong>{selected.size.toLocaleString()} selected</strong>
            {hidden > 0 && <span class="muted">({hidden.toLocaleString()} not shown by the search)</span>}
            {BULK.map(({ kind, label }) => (
              <button key={kind} type="button" data-bulk={kind} onClick={() => choose(kind, list.selectedVms())}>
                {label}
              </button>
            ))}
            <button type="button" class="link-button" onClick={() => list.selectShown(false)}>
              Clear selection
            </button>
          </div>
        )}
        {pending && <FleetActionForm pending={pending} onRun={(action) => run(action, pending.vms)} onCancel={() => setPending(null)} />}
        {bulkRuns.map((bulk) => (
          <BulkSummary key={bulk.id} api={api} run={bulk} onDismiss={() => runs.dismiss(bulk.id)} />
        ))}
        {!state.loaded ? (
          <p class="muted">Loading VMs…</p>
        ) : state.total === 0 && !state.error ? (
          <p class="muted" data-testid="fleet-empty">
            No VMs yet: they show here once a host reports them.
          </p>
        ) : (
          <FleetTable
            vms={state.shown}
            sort={state.sort}
            selected={selected}
            onSort={list.sortBy}
            onToggle={list.toggle}
            onSelectShown={list.selectShown}
            onChoose={(kind, vm) => choose(kind, [vm])}
            viewKey={JSON.stringify([filters, state.sort])}
            hostStatus={hostStatus}
          />
        )}
      </section>
    </main>
  );
}
