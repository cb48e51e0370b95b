// A VM row's "Console": opens the VM's serial console (or joins the one
// already open) and shows it. A refusal shows under the button.

import type { ConsoleOps } from '../state/consoleJoin';
import { useAction } from '../state/useAction';
import type { VM } from '../types';
import { CONSOLE_STATES } from '../vmActions';
import { FormError } from './FormError';

interface Props {
  agentId: string;
  vm: VM;
  consoles: ConsoleOps;
}

export function ConsoleButton({ agentId, vm, consoles }: Props) {
  const action = useAction();
  return (
    <>
      <button
        type="button"
        data-action="console"
        data-testid={`vm-console-${vm.name}`}
        aria-label={`Console of ${vm.name}`}
        title="The VM's serial console"
        disabled={action.busy || !CONSOLE_STATES.includes(vm.state)}
        onClick={() => void action.run(() => consoles.open(agentId, vm.uuid))}
      >
        {action.busy ? 'Opening…' : 'Console'}
      </button>
      <FormError message={action.error} testId="action-error" />
    </>
  );
}
