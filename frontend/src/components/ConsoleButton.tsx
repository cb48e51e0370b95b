// A VM row's "Console": opens the VM's serial console (or joins the one
// already open) and shows it. A refusal shows under the button. On a host
// whose hypervisor has no consoles it stays off and says why.

import { useEffect } from 'preact/hooks';
import type { ConsoleOps } from '../state/consoleJoin';
import { useAction } from '../state/useAction';
import type { VM } from '../types';
import { CONSOLE_STATES } from '../vmActions';
import { FormError } from './FormError';

interface Props {
  agentId: string;
  vm: VM;
  consoles: ConsoleOps;
  /** Why the host opens no console (Agent.console_unavailable); null when it does. */
  unavailable: string | null;
}

export function ConsoleButton({ agentId, vm, consoles, unavailable }: Props) {
  const action = useAction();
  const { setError } = action;
  // A refusal ("VM 'web1' is shutoff") is about the state it was refused in; once that changed it is old.
  useEffect(() => setError(''), [vm.state, setError]);
  return (
    <>
      <button
        type="button"
        data-action="console"
        data-testid={`vm-console-${vm.name}`}
        aria-label={`Console of ${vm.name}`}
        title={unavailable ?? "The VM's serial console"}
        disabled={action.busy || unavailable !== null || !CONSOLE_STATES.includes(vm.state)}
        onClick={() => void action.run(() => consoles.open(agentId, vm.uuid))}
      >
        {action.busy ? 'Opening…' : 'Console'}
      </button>
      <FormError message={action.error} testId="action-error" />
    </>
  );
}
