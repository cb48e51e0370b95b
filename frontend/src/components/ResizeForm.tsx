// Resize a VM: vCPUs, memory and each disk (read by a vm.detail job when the form opens). Disks only
// grow: a smaller size is refused here, before anything is sent, with the least it may be. Only what
// changed is sent. Once the job ends the form says whether the change applied now or takes effect at
// the VM's next boot (the job result's `applies`), or why it failed.

import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { formatBytes } from '../format';
import { jobFailure, type VmOps } from '../state/fleet';
import { useMounted } from '../state/useMounted';
import type { VM } from '../types';
import {
  appliesWords,
  disksOf,
  RESIZE_LIMITS,
  resizeFieldsOf,
  resizePlan,
  type DiskNow,
  type ResizeFields,
} from '../vmSizing';
import { FormError } from './FormError';

interface Props {
  agentId: string;
  vm: VM;
  ops: Pick<VmOps, 'submit' | 'resultData' | 'readResult'>;
}

function FieldError({ message, field }: { message?: string; field: string }) {
  if (!message) return null;
  return (
    <p class="error" data-testid="field-error" data-field={field}>
      {message}
    </p>
  );
}

function NumberField(props: {
  name: string;
  label: string;
  value: string;
  limits: readonly [number, number];
  error?: string;
  onInput: (value: string) => void;
}) {
  return (
    <div data-field={props.name}>
      <label>
        {props.label}
        <input
          name={props.name}
          type="number"
          inputMode="numeric"
          step={1}
          min={props.limits[0]}
          max={props.limits[1]}
          value={props.value}
          aria-invalid={Boolean(props.error)}
          onInput={(event) => props.onInput(event.currentTarget.value)}
        />
      </label>
      <FieldError message={props.error} field={props.name} />
    </div>
  );
}

interface Read {
  disks: DiskNow[];
  /** Why the disks are unknown (the detail job failed), else ''. */
  problem: string;
}

export function ResizeForm({ agentId, vm, ops }: Props) {
  const [read, setRead] = useState<Read | null>(null);
  const [fields, setFields] = useState<ResizeFields | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string; applies?: string } | null>(null);
  const mounted = useMounted();

  async function readDisks() {
    const detail = await ops.readResult(agentId, vm.uuid, { action: 'detail' });
    if (!mounted.current) return;
    const disks = disksOf(detail);
    setRead({ disks, problem: detail === null ? "Could not read the VM's disks: only vCPUs and memory can change." : '' });
    setFields(resizeFieldsOf(vm, disks));
  }

  useEffect(() => {
    void readDisks();
  }, [agentId, vm.uuid]);

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    if (read === null || fields === null) return;
    const plan = resizePlan(vm, read.disks, fields);
    setErrors(plan.errors);
    if (plan.change === null) return;
    setBusy(true);
    setOutcome(null);
    try {
      const job = await ops.submit(agentId, vm.uuid, { action: 'resize', ...plan.change });
      if (job.status !== 'succeeded') {
        if (mounted.current) setOutcome({ ok: false, text: jobFailure(job) ?? 'The resize failed.' });
        return;
      }
      const data = await ops.resultData(job);
      if (!mounted.current) return;
      const applies = (data as { applies?: string } | null)?.applies;
      setOutcome({ ok: true, text: appliesWords(data), applies });
      void readDisks();
    } catch (error) {
      if (mounted.current) setErrors({ '': errorMessage(error) });
    } finally {
      if (mounted.current) setBusy(false);
    }
  }

  if (read === null || fields === null) {
    return (
      <p class="muted" data-testid="resize-loading">
        Reading {vm.name}'s disks…
      </p>
    );
  }
  const set = (change: Partial<ResizeFields>) => setFields({ ...fields, ...change });
  return (
    <form class="inline-form stacked" data-testid="resize-form" onSubmit={submit} noValidate>
      <h3>Resize {vm.name}</h3>
      <p class="muted">
        A running VM gets new vCPUs and memory at its next boot; disks grow at once and never shrink.
      </p>
      <NumberField name="vcpus" label="Virtual CPUs" value={fields.vcpus} limits={RESIZE_LIMITS.vcpus}
        error={errors.vcpus} onInput={(vcpus) => set({ vcpus })} />
      <NumberField name="memory_mib" label="Memory (MiB)" value={fields.memory_mib} limits={RESIZE_LIMITS.memory_mib}
        error={errors.memory_mib} onInput={(memory_mib) => set({ memory_mib })} />
      {read.disks.map((disk) => (
        <NumberField
          key={disk.target}
          name={`disk-${disk.target}`}
          label={`Disk ${disk.target} (GiB; ${formatBytes(disk.capacity_bytes)} now)`}
          value={fields.disks[disk.target] ?? ''}
          limits={RESIZE_LIMITS.size_gib}
          error={errors[`disks.${disk.target}`]}
          onInput={(size) => set({ disks: { ...fields.disks, [disk.target]: size } })}
        />
      ))}
      {read.problem && <p class="muted">{read.problem}</p>}
      <FormError message={errors[''] ?? ''} testId="resize-error" />
      <div class="actions">
        <button type="submit" class="primary" data-action="confirm-resize" disabled={busy}>
          {busy ? 'Resizing…' : 'Resize'}
        </button>
      </div>
      {outcome && (
        <p class={outcome.ok ? 'success' : 'error'} role="status" data-testid="resize-outcome" data-applies={outcome.applies ?? ''}>
          {outcome.text}
        </p>
      )}
    </form>
  );
}
