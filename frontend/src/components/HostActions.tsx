// What an operator can do to a host: approve or reject what is pending,
// edit its labels, deregister it (after typing its name), see its VMs'
// console sessions.

import { useState } from 'preact/hooks';
import type { ConsoleOps } from '../state/consoleJoin';
import { isPendingHost, type HostOps } from '../state/fleet';
import { useAction } from '../state/useAction';
import type { Agent } from '../types';
import { ConsoleHistory } from './ConsoleHistory';
import { DeregisterForm } from './DeregisterForm';
import { FormError } from './FormError';
import { LabelsForm } from './LabelsForm';

interface Props {
  agent: Agent;
  ops: HostOps;
  consoles?: ConsoleOps;
}

type Panel = 'labels' | 'deregister' | 'consoles' | null;

interface PanelToggle {
  panel: Exclude<Panel, null>;
  action: string;
  label: string;
  text: string;
}

/** The buttons that show or hide one of the host's panels. */
function panelToggles(agent: Agent, withConsoles: boolean): PanelToggle[] {
  const toggles: PanelToggle[] = [
    { panel: 'labels', action: 'edit-labels', label: `Edit labels of host ${agent.name}`, text: 'Edit labels' },
    { panel: 'deregister', action: 'deregister', label: `Deregister host ${agent.name}`, text: 'Deregister' },
  ];
  if (withConsoles && !isPendingHost(agent)) {
    const label = `Console history of host ${agent.name}`;
    toggles.push({ panel: 'consoles', action: 'console-history', label, text: 'Console history' });
  }
  return toggles;
}

export function HostActions({ agent, ops, consoles }: Props) {
  const action = useAction();
  const [panel, setPanel] = useState<Panel>(null);
  const pending = isPendingHost(agent) || agent.pending_reregistration;
  const toggle = (next: Panel) => setPanel(panel === next ? null : next);

  return (
    <div class="host-actions">
      <div class="actions" role="group" aria-label={`Actions for host ${agent.name}`}>
        {pending && (
          <>
            <button
              type="button"
              class="primary"
              data-action="approve"
              aria-label={`Approve host ${agent.name}`}
              disabled={action.busy}
              onClick={() => void action.run(() => ops.approveHost(agent.agent_id))}
            >
              Approve
            </button>
            <button
              type="button"
              data-action="reject"
              aria-label={`Reject host ${agent.name}`}
              disabled={action.busy}
              onClick={() => void action.run(() => ops.rejectHost(agent))}
            >
              Reject
            </button>
          </>
        )}
        {panelToggles(agent, consoles !== undefined).map(({ panel: name, action: act, label, text }) => (
          <button
            key={name}
            type="button"
            data-action={act}
            aria-label={label}
            aria-expanded={panel === name}
            onClick={() => toggle(name)}
          >
            {text}
          </button>
        ))}
      </div>
      <FormError message={action.error} testId="action-error" />
      {panel === 'labels' && (
        <LabelsForm
          agent={agent}
          onSave={(labels) => ops.saveLabels(agent.agent_id, labels)}
          onDone={() => setPanel(null)}
        />
      )}
      {panel === 'consoles' && consoles && <ConsoleHistory consoles={consoles} filter={{ agentId: agent.agent_id }} />}
      {panel === 'deregister' && (
        <DeregisterForm
          agent={agent}
          onConfirm={() => ops.deregisterHost(agent.agent_id)}
          onCancel={() => setPanel(null)}
        />
      )}
    </div>
  );
}
