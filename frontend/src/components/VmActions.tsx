// The lifecycle buttons of one VM, each enabled only where it applies; the
// ones that lose the guest's unsaved state ask first.

import type { ComponentChildren } from 'preact';
import { VM_ACTIONS } from '../vmActions';
import type { VM, VmAction } from '../types';
import { ConfirmButton } from './ConfirmButton';

interface Props {
  vm: VM;
  /** More buttons for the same line (the row's Console and More). */
  children?: ComponentChildren;
  /** An action for this VM is being sent. */
  busy: boolean;
  onAction: (action: VmAction) => void;
}

export function VmActions({ vm, busy, onAction, children }: Props) {
  return (
    <div class="actions" role="group" aria-label={`Actions for ${vm.name}`}>
      {VM_ACTIONS.map(({ action, label, appliesTo, loses }) => {
        const disabled = busy || !appliesTo.includes(vm.state);
        return loses ? (
          <ConfirmButton
            key={action}
            action={action}
            label={label}
            ariaLabel={`${label} ${vm.name}`}
            disabled={disabled}
            question={`${label} ${vm.name}? ${loses}`}
            confirmLabel={`Yes, ${label.toLowerCase()} ${vm.name}`}
            onConfirm={() => onAction(action)}
          />
        ) : (
          <button
            key={action}
            type="button"
            data-action={action}
            aria-label={`${label} ${vm.name}`}
            disabled={disabled}
            onClick={() => onAction(action)}
          >
            {label}
          </button>
        );
      })}
      {children}
    </div>
  );
}
