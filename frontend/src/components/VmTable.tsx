// The VMs of one host: name (transient ones marked), state with libvirt's
// reason for it, vCPUs, memory, autostart, and the lifecycle buttons.

import { useState } from 'preact/hooks';
import { autostartWord, formatMemory, reasonWords } from '../format';
import type { ConsoleOps } from '../state/consoleJoin';
import { vmKey, type VmOps } from '../state/fleet';
import type { VM, VmAction } from '../types';
import { useNavigate } from '../state/navigation';
import { vmPath } from '../state/router';
import { AppLink } from './AppLink';
import { ConsoleButton } from './ConsoleButton';
import { StatusBadge } from './StatusBadge';
import { VmActions } from './VmActions';
import { VmMore } from './VmMore';
import { TableHead } from './TableHead';

const HEADINGS = [
  'Name',
  'State',
  { label: 'vCPUs', numeric: true },
  { label: 'Memory', numeric: true },
  'Autostart',
  'Actions',
];

export type OnAction = (agentId: string, vmUuid: string, action: VmAction) => void;

interface Props {
  agentId: string;
  hostName: string;
  vms: VM[];
  actionErrors: Record<string, string>;
  sending: Record<string, boolean>;
  onAction: OnAction;
  /** Reset, autostart, details, snapshots, delete (behind each row's "More"); none without. */
  ops?: VmOps;
  /** The Console button and the VM's console history (in "More"); none without. */
  consoles?: ConsoleOps;
  /** Why this host opens no console (the Console button is off and says so); null when it does. */
  consoleUnavailable?: string | null;
}

interface RowProps {
  agentId: string;
  vm: VM;
  error: string | undefined;
  busy: boolean;
  onAction: OnAction;
  ops?: VmOps;
  consoles?: ConsoleOps;
  consoleUnavailable: string | null;
}

function StateReason({ reason }: { reason: string | null }) {
  const words = reasonWords(reason);
  if (words === '') return null;
  return (
    <span class="muted state-reason" data-testid="vm-state-reason">
      {' '}
      {words}
    </span>
  );
}

function VmRow({ agentId, vm, error, busy, onAction, ops, consoles, consoleUnavailable }: RowProps) {
  const [open, setOpen] = useState(false);
  const navigate = useNavigate();
  return (
    <tr data-testid="vm-row" data-vm-name={vm.name} data-vm-uuid={vm.uuid}>
      <th scope="row">
        <span class="vm-name">
          <AppLink href={vmPath(agentId, vm.uuid)} onNavigate={navigate} testId="vm-page-link">
            {vm.name}
          </AppLink>
        </span>
        {vm.persistent === false && (
          <span class="tag" data-testid="vm-transient" title="Not defined on the host: it is gone once it stops">
            transient
          </span>
        )}
      </th>
      <td>
        <StatusBadge kind="vm" status={vm.state} testId="vm-state" />
        <StateReason reason={vm.state_reason} />
      </td>
      <td class="num">{vm.vcpus}</td>
      <td class="num">{formatMemory(vm.memory_kib)}</td>
      <td data-testid="vm-autostart-state">{autostartWord(vm.autostart)}</td>
      <td class="vm-actions">
        <VmActions vm={vm} busy={busy} onAction={(action) => onAction(agentId, vm.uuid, action)}>
          {consoles && <ConsoleButton agentId={agentId} vm={vm} consoles={consoles} unavailable={consoleUnavailable} />}
          {ops && (
            <button
              type="button"
              data-action="more"
              aria-expanded={open}
              aria-label={`More actions for ${vm.name}`}
              onClick={() => setOpen(!open)}
            >
              {open ? 'Less' : 'More…'}
            </button>
          )}
        </VmActions>
        {ops && open && <VmMore agentId={agentId} vm={vm} busy={busy} ops={ops} consoles={consoles} />}
        {error && (
          <p class="error" role="alert" data-testid="vm-error">
            {error}
          </p>
        )}
      </td>
    </tr>
  );
}

export function VmTable(props: Props) {
  const { agentId, hostName, vms, actionErrors, sending, onAction, ops, consoles, consoleUnavailable = null } = props;
  if (vms.length === 0) return <p class="muted">No VMs on this host.</p>;
  return (
    <>
      {consoles && consoleUnavailable && (
        <p class="muted" data-testid="console-unavailable">
          No consoles here: {consoleUnavailable}
        </p>
      )}
      <table class="vm-table">
        <caption class="visually-hidden">VMs on {hostName}</caption>
        <TableHead columns={HEADINGS} />
        <tbody>
          {vms.map((vm) => {
            const key = vmKey(agentId, vm.uuid);
            return (
              <VmRow
                key={vm.uuid}
                agentId={agentId}
                vm={vm}
                error={actionErrors[key]}
                busy={sending[key] ?? false}
                onAction={onAction}
                ops={ops}
                consoles={consoles}
                consoleUnavailable={consoleUnavailable}
              />
            );
          })}
        </tbody>
      </table>
    </>
  );
}
