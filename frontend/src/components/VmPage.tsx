// One VM's page (/vms/{agent id}/{VM UUID or name}): its state with libvirt's
// reason and how long ago it changed, its labels, CPU and memory, its actions (clone and
// resize among them) and console, graphs of its statistics, disks, NICs and addresses (a vm.detail
// job read when the page opens), snapshots, consoles and jobs. The VM and
// its jobs come from the same store as the hosts page, so they stay as fresh
// (the change feed) and actions behave the same.

import type { Api } from '../api';
import { autostartWord, formatAgo, formatMemory, reasonWords } from '../format';
import type { ConsoleOps } from '../state/consoleJoin';
import { createFleetStore, vmKey, type FleetOptions, type FleetState } from '../state/fleet';
import type { VmRoute } from '../state/router';
import { useNow, usePageStore } from '../state/useStore';
import type { VmMetricsOptions } from '../state/vmMetrics';
import type { Agent, VM } from '../types';
import { AppLink } from './AppLink';
import { ConsoleButton } from './ConsoleButton';
import { ConsoleHistory } from './ConsoleHistory';
import { LabelChips } from './HostLabels';
import { JobList } from './JobList';
import { SnapshotPanel } from './SnapshotPanel';
import { StatusBadge } from './StatusBadge';
import { VmActions } from './VmActions';
import { VmCharts } from './VmCharts';
import { VmCloneResize } from './VmCloneResize';
import { VmDetailPanel } from './VmDetailPanel';

/** The jobs the page lists: the owner's latest this many, this VM's among them. */
const JOB_LIMIT = 100;

interface Props {
  api: Api;
  route: VmRoute;
  onNavigate: (path: string) => void;
  consoles?: ConsoleOps;
  fleetOptions?: FleetOptions;
  metricsOptions?: VmMetricsOptions;
}

function findVm(fleet: FleetState, route: VmRoute): { agent?: Agent; vm?: VM } {
  const agent = fleet.agents.find((a) => a.agent_id === route.agentId);
  const vm = fleet.vms[route.agentId]?.find((v) => v.uuid === route.vm.toLowerCase() || v.name === route.vm);
  return { agent, vm };
}

function Facts({ agent, vm, now }: { agent: Agent; vm: VM; now: number }) {
  const reason = reasonWords(vm.state_reason);
  return (
    <dl class="facts" data-testid="vm-facts">
      <div>
        <dt>State</dt>
        <dd>
          <StatusBadge kind="vm" status={vm.state} testId="vm-state" />
          {reason && <span class="muted" data-testid="vm-state-reason"> {reason}</span>}
          <span class="muted" data-testid="vm-state-age"> · changed {formatAgo(vm.updated_ms, now)}</span>
        </dd>
      </div>
      <div>
        <dt>Host</dt>
        <dd>{agent.name}</dd>
      </div>
      <div>
        <dt>UUID</dt>
        <dd>
          <code>{vm.uuid}</code>
        </dd>
      </div>
      <div>
        <dt>vCPUs</dt>
        <dd data-testid="vm-vcpus">{vm.vcpus}</dd>
      </div>
      <div>
        <dt>Memory</dt>
        <dd data-testid="vm-memory">{formatMemory(vm.memory_kib)}</dd>
      </div>
      <div>
        <dt>Autostart</dt>
        <dd>{autostartWord(vm.autostart)}</dd>
      </div>
      {vm.persistent === false && (
        <div>
          <dt>Defined</dt>
          <dd>transient: gone once it stops</dd>
        </div>
      )}
    </dl>
  );
}

export function VmPage({ api, route, onNavigate, consoles, fleetOptions, metricsOptions }: Props) {
  const [store, fleet] = usePageStore(() => createFleetStore(api, { jobLimit: JOB_LIMIT, ...fleetOptions }));
  const now = useNow();
  const { agent, vm } = findVm(fleet, route);
  const back = (
    <AppLink href="/" onNavigate={onNavigate} testId="vm-page-back">
      Hosts
    </AppLink>
  );

  if (!agent || !vm) {
    const loading = !fleet.loaded || (agent !== undefined && fleet.vms[agent.agent_id] === undefined && !fleet.vmErrors[agent.agent_id]);
    return (
      <main class="layout vm-page">
        <section class="card" data-testid={loading ? 'vm-page-loading' : 'not-found'}>
          <p>{back}</p>
          <p>{loading ? 'Loading…' : fleet.hostsError || `No VM '${route.vm}' on this host.`}</p>
        </section>
      </main>
    );
  }

  const key = vmKey(agent.agent_id, vm.uuid);
  const jobs = fleet.jobs.filter((job) => job.vm_uuid === vm.uuid);
  return (
    <main class="layout vm-page" data-testid="vm-page" data-vm-uuid={vm.uuid}>
      <section class="card" aria-labelledby="vm-title">
        <p class="muted">
          {back} › {agent.name}
        </p>
        <h1 id="vm-title" data-testid="vm-page-name">
          {vm.name}
        </h1>
        <Facts agent={agent} vm={vm} now={now} />
        <LabelChips labels={vm.labels ?? {}} kind="vm" empty="No labels." />
        <VmActions vm={vm} busy={fleet.sending[key] ?? false} onAction={(action) => void store.runAction(agent.agent_id, vm.uuid, action)} />
        {consoles && (
          <ConsoleButton agentId={agent.agent_id} vm={vm} consoles={consoles} unavailable={agent.console_unavailable ?? null} />
        )}
        {fleet.actionErrors[key] && (
          <p class="error" role="alert" data-testid="vm-error">
            {fleet.actionErrors[key]}
          </p>
        )}
        <VmCloneResize
          agentId={agent.agent_id}
          vm={vm}
          ops={store}
          taken={(fleet.vms[agent.agent_id] ?? []).map((one) => one.name)}
        />
      </section>
      <VmCharts api={api} agentId={agent.agent_id} vmUuid={vm.uuid} options={metricsOptions} />
      <section class="card" aria-label={`Disks, NICs and addresses of ${vm.name}`}>
        <h2>Disks, network interfaces and addresses</h2>
        <VmDetailPanel agentId={agent.agent_id} vm={vm} ops={store} auto />
      </section>
      <section class="card" aria-label={`Snapshots of ${vm.name}`}>
        <SnapshotPanel agentId={agent.agent_id} vm={vm} ops={store} />
      </section>
      {consoles && (
        <section class="card" aria-label={`Consoles of ${vm.name}`}>
          <h2>Consoles</h2>
          <ConsoleHistory consoles={consoles} filter={{ agentId: agent.agent_id, vmUuid: vm.uuid }} />
        </section>
      )}
      <JobList jobs={jobs} vmNames={new Map([[vm.uuid, vm.name]])} error={fleet.jobsError} now={now} />
    </main>
  );
}
