// What an operator can do to a host: approve or reject what is pending,
// edit its labels, deregister it (after typing its name).

import { useState } from 'preact/hooks';
import { isPendingHost, type HostOps } from '../state/fleet';
import { useAction } from '../state/useAction';
import type { Agent } from '../types';
import { DeregisterForm } from './DeregisterForm';
import { FormError } from './FormError';
import { LabelsForm } from './LabelsForm';

interface Props {
  agent: Agent;
  ops: HostOps;
}

type Panel = 'labels' | 'deregister' | null;

export function HostActions({ agent, ops }: Props) {
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
        <button
          type="button"
          data-action="edit-labels"
          aria-label={`Edit labels of host ${agent.name}`}
          aria-expanded={panel === 'labels'}
          onClick={() => toggle('labels')}
        >
          Edit labels
        </button>
        <button
          type="button"
          data-action="deregister"
          aria-label={`Deregister host ${agent.name}`}
          aria-expanded={panel === 'deregister'}
          onClick={() => toggle('deregister')}
        >
          Deregister
        </button>
      </div>
      <FormError message={action.error} testId="action-error" />
      {panel === 'labels' && (
        <LabelsForm
          agent={agent}
          onSave={(labels) => ops.saveLabels(agent.agent_id, labels)}
          onDone={() => setPanel(null)}
        />
      )}
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
