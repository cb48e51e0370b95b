// The step between choosing an action for some VMs (the selection, or one
// row's menu) and running it: a confirmation for what stops or restarts
// guests, a name for a snapshot, the labels to set. The server checks every
// field again; its refusal shows in the run's summary, per VM.

import { useState } from 'preact/hooks';
import { formatLabels, parseLabels, type Labels } from '../labels';
import type { FleetVm, VmAction } from '../types';
import { VM_ACTIONS } from '../vmActions';
import { FormError } from './FormError';

/** What an operator can ask of several VMs at once (and of one, from its row's menu). */
export type FleetAction =
  | { kind: 'power'; action: VmAction }
  | { kind: 'snapshot'; name: string; description: string }
  | { kind: 'label'; set: Labels; remove: string[]; replace: boolean };

/** Power actions that stop or restart what runs in a guest: asked to confirm first. */
export const DESTRUCTIVE: ReadonlySet<VmAction> = new Set<VmAction>(['shutdown', 'force-stop', 'reboot']);

export type PendingKind = VmAction | 'snapshot' | 'label';

/** What a form is open for, and on which VMs. */
export interface Pending {
  kind: PendingKind;
  vms: FleetVm[];
}

export function actionLabel(action: VmAction): string {
  return VM_ACTIONS.find((spec) => spec.action === action)?.label ?? action;
}

export function countWords(vms: FleetVm[]): string {
  const hosts = new Set(vms.map((vm) => vm.agent_id)).size;
  const what = vms.length === 1 ? `VM ${vms[0].name}` : `${vms.length.toLocaleString()} VMs`;
  return hosts > 1 ? `${what} on ${hosts.toLocaleString()} hosts` : what;
}

/** "web1", or "12 VMs". */
function shortWords(vms: FleetVm[]): string {
  return vms.length === 1 ? vms[0].name : `${vms.length.toLocaleString()} VMs`;
}

function Buttons({ label, danger = false, onCancel }: { label: string; danger?: boolean; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" class={danger ? 'danger' : 'primary'} data-action="confirm">
        {label}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A snapshot name as the API takes it: 1 to 64 letters, digits, '.', '_' or '-', a letter or digit first. */
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface Props {
  pending: Pending;
  onRun: (action: FleetAction) => void;
  onCancel: () => void;
}

export function FleetActionForm({ pending, onRun, onCancel }: Props) {
  const { kind, vms } = pending;
  if (kind === 'snapshot') return <SnapshotForm vms={vms} onRun={onRun} onCancel={onCancel} />;
  if (kind === 'label') return <LabelForm vms={vms} onRun={onRun} onCancel={onCancel} />;
  const label = actionLabel(kind);
  return (
    <form
      class="inline-form fleet-form"
      data-testid="fleet-confirm"
      onSubmit={(event) => {
        event.preventDefault();
        onRun({ kind: 'power', action: kind });
      }}
    >
      <p>
        {label} {countWords(vms)}? What runs in {vms.length === 1 ? 'it' : 'them'} is interrupted.
      </p>
      <Buttons label={`${label} ${shortWords(vms)}`} danger onCancel={onCancel} />
    </form>
  );
}

interface FormProps {
  vms: FleetVm[];
  onRun: (action: FleetAction) => void;
  onCancel: () => void;
}

function SnapshotForm({ vms, onRun, onCancel }: FormProps) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState('');
  return (
    <form
      class="inline-form fleet-form"
      data-testid="fleet-snapshot-form"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        if (!SNAPSHOT_NAME.test(name.trim())) {
          return setError("A snapshot name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
        onRun({ kind: 'snapshot', name: name.trim(), description: description.trim() });
      }}
    >
      <p>Snapshot {countWords(vms)}: each gets its own snapshot of this name.</p>
      <label>
        Snapshot name
        <input name="bulk_snapshot_name" value={name} autocomplete="off" onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Description (optional)
        <input
          name="bulk_snapshot_description"
          value={description}
          autocomplete="off"
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
      </label>
      <Buttons label={`Snapshot ${shortWords(vms)}`} onCancel={onCancel} />
      <FormError message={error} />
    </form>
  );
}

/**
 * One VM: its labels as text, replaced whole on save. Several: the labels
 * given are set on each (others kept), and the keys named are removed.
 */
function LabelForm({ vms, onRun, onCancel }: FormProps) {
  const replace = vms.length === 1;
  const [text, setText] = useState(() => (replace ? formatLabels(vms[0].labels ?? {}) : ''));
  const [remove, setRemove] = useState('');
  const [error, setError] = useState('');
  return (
    <form
      class="inline-form stacked fleet-form"
      data-testid="fleet-label-form"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        const parsed = parseLabels(text);
        if (parsed.error !== undefined) return setError(parsed.error);
        onRun({ kind: 'label', set: parsed.labels, remove: remove.split(/[\s,]+/).filter(Boolean), replace });
      }}
    >
      <label>
        {replace ? `Labels of ${vms[0].name}` : `Labels to set on ${countWords(vms)}`}
        <textarea
          name="bulk_labels"
          class="mono"
          rows={3}
          value={text}
          spellcheck={false}
          autocomplete="off"
          onInput={(e) => setText(e.currentTarget.value)}
        />
      </label>
      <p class="muted hint">One key=value per line, e.g. tier=web. Keys are lowercase letters, digits, ".", "_" and "-".</p>
      {!replace && (
        <label>
          Label keys to remove (optional)
          <input name="bulk_labels_remove" value={remove} autocomplete="off" onInput={(e) => setRemove(e.currentTarget.value)} />
        </label>
      )}
      <Buttons label="Save labels" onCancel={onCancel} />
      <FormError message={error} />
    </form>
  );
}

/** A VM's labels after a label action: replaced whole, or merged and pruned. */
export function labelsAfter(current: Labels | undefined, action: Extract<FleetAction, { kind: 'label' }>): Labels {
  if (action.replace) return action.set;
  const next = new Map(Object.entries({ ...(current ?? {}), ...action.set }));
  for (const key of action.remove) next.delete(key);
  return Object.fromEntries(next);
}
