// A VM's less common actions, opened from its row: reset, autostart, a
// shutdown that escalates after a timeout, clone and resize, details, snapshots,
// delete and its console history.
// Every refusal and failed job shows in the row's `vm-error`.

import { useState } from 'preact/hooks';
import { autostartWord } from '../format';
import type { ConsoleOps } from '../state/consoleJoin';
import type { VmOps } from '../state/fleet';
import type { VM, VmRequest } from '../types';
import { RESET_LOSES, RESET_STATES, shutdownTimeout } from '../vmActions';
import { ConfirmButton } from './ConfirmButton';
import { ConsoleHistory } from './ConsoleHistory';
import { DeleteVmForm } from './DeleteVmForm';
import { SnapshotPanel } from './SnapshotPanel';
import { VmCloneResize } from './VmCloneResize';
import { VmDetailPanel } from './VmDetailPanel';

interface Props {
  agentId: string;
  vm: VM;
  /** An action for this VM is being sent. */
  busy: boolean;
  ops: VmOps;
  consoles?: ConsoleOps;
}

function ShutdownWithTimeout({ vm, busy, send }: { vm: VM; busy: boolean; send: (r: VmRequest) => void }) {
  const [text, setText] = useState('');
  const seconds = shutdownTimeout(text);
  return (
    <div class="inline-form">
      <label>
        Shutdown timeout (s)
        <input
          name="shutdown_timeout"
          type="number"
          min={1}
          max={3600}
          step={1}
          inputMode="numeric"
          value={text}
          onInput={(event) => setText(event.currentTarget.value)}
        />
      </label>
      <button
        type="button"
        data-action="shutdown-timeout"
        aria-label={`Shutdown ${vm.name} with a timeout`}
        title="ACPI shutdown; forced stop once the timeout (1–3600 s) passes"
        disabled={busy || vm.state !== 'running' || seconds === null}
        onClick={() => seconds !== null && send({ action: 'shutdown', timeout_seconds: seconds })}
      >
        Shutdown, then force
      </button>
    </div>
  );
}

export function VmMore({ agentId, vm, busy, ops, consoles }: Props) {
  const [deleting, setDeleting] = useState(false);
  const [history, setHistory] = useState(false);
  const send = (request: VmRequest) => void ops.runAction(agentId, vm.uuid, request);
  const autostart = vm.autostart ?? false;
  return (
    <div class="vm-more" data-testid="vm-more">
      <div class="actions" role="group" aria-label={`More actions for ${vm.name}`}>
        <ConfirmButton
          action="reset"
          label="Reset"
          ariaLabel={`Reset ${vm.name}`}
          disabled={busy || !RESET_STATES.includes(vm.state)}
          question={`Reset ${vm.name}? ${RESET_LOSES}`}
          confirmLabel={`Yes, reset ${vm.name}`}
          onConfirm={() => send({ action: 'reset' })}
        />
        <button
          type="button"
          data-action="set-autostart"
          aria-pressed={autostart}
          disabled={busy || vm.persistent === false}
          title={vm.persistent === false ? 'A transient VM cannot start with the host' : undefined}
          onClick={() => send({ action: 'set-autostart', autostart: !autostart })}
        >
          Autostart: <span data-testid="vm-autostart">{autostartWord(vm.autostart)}</span>
        </button>
        {consoles && (
          <button type="button" data-action="console-history" aria-expanded={history} onClick={() => setHistory(!history)}>
            Console history
          </button>
        )}
        <button type="button" data-action="delete" class="danger" onClick={() => setDeleting(!deleting)}>
          Delete…
        </button>
      </div>
      {consoles && history && <ConsoleHistory consoles={consoles} filter={{ agentId, vmUuid: vm.uuid }} />}
      {deleting && (
        <DeleteVmForm
          vm={vm}
          onConfirm={async (deleteStorage, confirm) => {
            const job = await ops.runAction(agentId, vm.uuid, { action: 'delete', delete_storage: deleteStorage, confirm });
            if (job !== null) setDeleting(false);
          }}
          onCancel={() => setDeleting(false)}
        />
      )}
      <ShutdownWithTimeout vm={vm} busy={busy} send={send} />
      <VmCloneResize agentId={agentId} vm={vm} ops={ops} />
      <VmDetailPanel agentId={agentId} vm={vm} ops={ops} />
      <SnapshotPanel agentId={agentId} vm={vm} ops={ops} />
    </div>
  );
}
