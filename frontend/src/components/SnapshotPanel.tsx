// A VM's snapshots: create one, list them (a vm.snapshot_list job whose
// result holds the list), revert to or delete one. The list is read again
// whenever a change made here has finished.

import { useState } from 'preact/hooks';
import { formatTime } from '../format';
import type { VmOps } from '../state/fleet';
import { useMounted } from '../state/useMounted';
import type { Snapshot, VM, VmRequest } from '../types';
import { snapshotsOf } from '../vmActions';
import { ConfirmButton } from './ConfirmButton';
import { MAX_SNAPSHOT_DESCRIPTION, MAX_SNAPSHOT_NAME } from '../limits';

interface Props {
  agentId: string;
  vm: VM;
  ops: VmOps;
}

interface RowProps {
  snapshot: Snapshot;
  vmName: string;
  busy: boolean;
  onAct: (r: VmRequest) => void;
}

function SnapshotRow({ snapshot, vmName, busy, onAct }: RowProps) {
  const { name } = snapshot;
  return (
    <li data-testid="snapshot-row" data-name={name}>
      <strong class="snapshot-name">{name}</strong>
      {snapshot.current && <span class="muted"> (current)</span>}
      {snapshot.description && <span> — {snapshot.description}</span>}
      {typeof snapshot.created_at === 'number' && (
        <span class="muted"> · {formatTime(snapshot.created_at * 1000)}</span>
      )}{' '}
      <ConfirmButton
        action="snapshot-revert"
        label="Revert"
        ariaLabel={`Revert to snapshot ${name}`}
        disabled={busy}
        question={`Revert ${vmName} to snapshot ${name}? Every change made to ${vmName} since that snapshot is lost.`}
        confirmLabel={`Yes, revert to ${name}`}
        onConfirm={() => onAct({ action: 'snapshot-revert', name })}
      />
      <ConfirmButton
        action="snapshot-delete"
        label="Delete"
        ariaLabel={`Delete snapshot ${name}`}
        disabled={busy}
        question={`Delete snapshot ${name}? ${vmName} can no longer be reverted to it; the VM itself stays as it is.`}
        confirmLabel={`Yes, delete ${name}`}
        onConfirm={() => onAct({ action: 'snapshot-delete', name })}
      />
    </li>
  );
}

export function SnapshotPanel({ agentId, vm, ops }: Props) {
  const [snapshots, setSnapshots] = useState<Snapshot[] | null>(null);
  const [listing, setListing] = useState(false);
  const [changing, setChanging] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const mounted = useMounted();

  async function list() {
    setListing(true);
    const data = await ops.readResult(agentId, vm.uuid, { action: 'snapshot-list' });
    if (!mounted.current) return;
    setListing(false);
    if (data !== null) setSnapshots(snapshotsOf(data));
  }

  /** Queues a change and, once its job has ended, reads the list again. */
  async function change(request: VmRequest): Promise<boolean> {
    setChanging(true);
    const job = await ops.runAndWait(agentId, vm.uuid, request);
    if (!mounted.current) return false;
    setChanging(false);
    if (job === null) return false;
    void list();
    return job.status === 'succeeded';
  }

  async function create(event: SubmitEvent) {
    event.preventDefault();
    const trimmed = description.trim();
    const request: VmRequest =
      trimmed === ''
        ? { action: 'snapshot-create', name: name.trim() }
        : { action: 'snapshot-create', name: name.trim(), description: trimmed };
    if (await change(request)) {
      setName('');
      setDescription('');
    }
  }

  return (
    <div class="snapshots">
      <form class="inline-form" data-testid="snapshot-form" onSubmit={create} noValidate>
        <label>
          Snapshot name
          <input
            name="snapshot_name"
            maxLength={MAX_SNAPSHOT_NAME}
            type="text"
            autocomplete="off"
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </label>
        <label>
          Description
          <input
            name="snapshot_description"
            maxLength={MAX_SNAPSHOT_DESCRIPTION}
            type="text"
            autocomplete="off"
            value={description}
            onInput={(event) => setDescription(event.currentTarget.value)}
          />
        </label>
        <button type="submit" data-action="snapshot-create" disabled={changing || name.trim() === ''}>
          Create snapshot
        </button>
      </form>
      <button type="button" data-action="snapshot-list" disabled={listing} onClick={() => void list()}>
        {listing ? 'Listing snapshots…' : 'List snapshots'}
      </button>
      {snapshots !== null &&
        (snapshots.length === 0 ? (
          <p class="muted" data-testid="snapshot-empty">
            No snapshots.
          </p>
        ) : (
          <ul class="snapshot-list" data-testid="snapshot-list">
            {snapshots.map((snapshot) => (
              <SnapshotRow
                key={snapshot.name}
                snapshot={snapshot}
                vmName={vm.name}
                busy={changing}
                onAct={(request) => void change(request)}
              />
            ))}
          </ul>
        ))}
    </div>
  );
}
