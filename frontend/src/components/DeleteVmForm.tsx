// The confirmation step before a VM is deleted: the operator types the VM's
// name (the server checks it again as `confirm`) and chooses whether its
// pool volumes go too.

import { useState } from 'preact/hooks';
import type { VM } from '../types';
import { MAX_VM_NAME } from '../limits';

interface Props {
  vm: VM;
  onConfirm: (deleteStorage: boolean, confirm: string) => Promise<void>;
  onCancel: () => void;
}

export function DeleteVmForm({ vm, onConfirm, onCancel }: Props) {
  const [typed, setTyped] = useState('');
  const [deleteStorage, setDeleteStorage] = useState(false);
  const [busy, setBusy] = useState(false);
  const matches = typed === vm.name;

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    if (!matches || busy) return;
    setBusy(true);
    try {
      await onConfirm(deleteStorage, typed);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="inline-form stacked danger-zone" data-testid="delete-form" onSubmit={submit} noValidate>
      <p>
        Deleting <strong>{vm.name}</strong> undefines it on its host (a running VM is refused: stop it first).
      </p>
      <label>
        Type the VM name to confirm
        <input
          name="confirm_vm_name"
          maxLength={MAX_VM_NAME}
          type="text"
          autocomplete="off"
          spellcheck={false}
          value={typed}
          onInput={(event) => setTyped(event.currentTarget.value)}
        />
      </label>
      <label>
        <input
          name="delete_storage"
          type="checkbox"
          checked={deleteStorage}
          onChange={(event) => setDeleteStorage(event.currentTarget.checked)}
        />{' '}
        Also delete its disk volumes in libvirt storage pools
      </label>
      <div class="actions">
        <button type="submit" class="danger" data-action="confirm-delete" disabled={!matches || busy}>
          {busy ? 'Deleting…' : `Delete ${vm.name}`}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
