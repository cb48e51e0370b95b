// The VM's clone and resize forms, each opened by its own button; on the VM's page and in its row's
// "More" panel alike.

import { useState } from 'preact/hooks';
import type { VmOps } from '../state/fleet';
import type { VM } from '../types';
import { cloneBlocked } from '../vmSizing';
import { CloneForm } from './CloneForm';
import { ResizeForm } from './ResizeForm';

interface Props {
  agentId: string;
  vm: VM;
  ops: VmOps;
  /** The names of the VMs on the host, when known. */
  taken?: readonly string[];
}

export function VmCloneResize({ agentId, vm, ops, taken }: Props) {
  const [open, setOpen] = useState<'clone' | 'resize' | null>(null);
  const toggle = (form: 'clone' | 'resize') => setOpen(open === form ? null : form);
  return (
    <div class="vm-clone-resize" data-testid="vm-clone-resize">
      <div class="actions" role="group" aria-label={`Clone or resize ${vm.name}`}>
        <button type="button" data-action="clone" aria-expanded={open === 'clone'} title={cloneBlocked(vm) ?? undefined}
          onClick={() => toggle('clone')}>
          Clone…
        </button>
        <button type="button" data-action="resize" aria-expanded={open === 'resize'} onClick={() => toggle('resize')}>
          Resize…
        </button>
      </div>
      {open === 'clone' && <CloneForm agentId={agentId} vm={vm} ops={ops} taken={taken} />}
      {open === 'resize' && <ResizeForm agentId={agentId} vm={vm} ops={ops} />}
    </div>
  );
}
