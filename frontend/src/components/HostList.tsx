// Every host the operator owns, each with its VMs.

import type { ConsoleOps } from '../state/consoleJoin';
import type { FleetState, HostOps, VmOps } from '../state/fleet';
import { HostCard } from './HostCard';
import type { OnAction } from './VmTable';

interface Props {
  fleet: FleetState;
  now: number;
  onAction: OnAction;
  ops: HostOps;
  vmOps?: VmOps;
  consoles?: ConsoleOps;
}

export function HostList({ fleet, now, onAction, ops, vmOps, consoles }: Props) {
  if (!fleet.loaded) return <p class="muted">Loading hosts…</p>;
  return (
    <>
      {fleet.hostsError && (
        <p class="error" role="alert" data-testid="hosts-error">
          {fleet.hostsError}
        </p>
      )}
      {fleet.agents.length === 0 && !fleet.hostsError && (
        <p class="muted">No hosts yet. Enrol a host's agent and it appears here.</p>
      )}
      {fleet.agents.map((agent) => (
        <HostCard
          key={agent.agent_id}
          agent={agent}
          vms={fleet.vms[agent.agent_id]}
          vmError={fleet.vmErrors[agent.agent_id]}
          now={now}
          actionErrors={fleet.actionErrors}
          sending={fleet.sending}
          onAction={onAction}
          ops={ops}
          vmOps={vmOps}
          consoles={consoles}
        />
      ))}
    </>
  );
}
