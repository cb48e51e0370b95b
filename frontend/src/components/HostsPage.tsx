// The Hosts page: hosts with their VMs, and the recent jobs.

import { useMemo } from 'preact/hooks';
import type { Api } from '../api';
import type { ConsoleOps } from '../state/consoleJoin';
import { createFleetStore, type FleetOptions, type FleetState } from '../state/fleet';
import { useNow, usePageStore } from '../state/useStore';
import { HostList } from './HostList';
import { JobList } from './JobList';

interface Props {
  api: Api;
  options?: FleetOptions;
  /** The Console buttons and console history; none without. */
  consoles?: ConsoleOps;
}

function vmNamesOf(fleet: FleetState): Map<string, string> {
  return new Map(Object.values(fleet.vms).flatMap((vms) => vms.map((vm) => [vm.uuid, vm.name] as const)));
}

export function HostsPage({ api, options, consoles }: Props) {
  const [store, fleet] = usePageStore(() => createFleetStore(api, options));
  const now = useNow();
  const vmNames = useMemo(() => vmNamesOf(fleet), [fleet.vms]);

  return (
    <main class="layout">
      <section class="hosts" aria-labelledby="hosts-title">
        <h1 id="hosts-title">Hosts</h1>
        <HostList
          fleet={fleet}
          now={now}
          onAction={(a, v, action) => void store.runAction(a, v, action)}
          ops={store}
          vmOps={store}
          consoles={consoles}
        />
      </section>
      <JobList jobs={fleet.jobs} vmNames={vmNames} error={fleet.jobsError} now={now} />
    </main>
  );
}
