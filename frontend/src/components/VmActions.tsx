// The lifecycle buttons of one VM, each enabled only where it applies.

import { VM_ACTIONS } from '../vmActions';
import type { VM, VmAction } from '../types';

interface Props {
  vm: VM;
  /** An action for this VM is being sent. */
  busy: boolean;
  onAction: (action: VmAction) => void;
}

export function VmActions({ vm, busy, onAction }: Props) {
  return (
    <div class="actions" role="group" aria-label={`Actions for ${vm.name}`}>
      {VM_ACTIONS.map(({ action, label, appliesTo }) => (
        <button
          key={action}
          type="button"
          data-action={action}
          aria-label={`${label} ${vm.name}`}
          disabled={busy || !appliesTo.includes(vm.state)}
          onClick={() => onAction(action)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}
