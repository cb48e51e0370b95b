// Clone a VM: only a shut-off one (the agent copies its disks; a running VM's would change under the
// copy), under a new name checked as the server checks it, as whole copies of its disks or as a linked
// clone (qcow2 overlays on the source's disks: made at once and small, but the source must then stay as
// it is). The server's refusal shows in the form; once the job ends, so does its outcome.

import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api';
import { MAX_CLONE_NAME } from '../limits';
import { jobFailure, type VmOps } from '../state/fleet';
import { useMounted } from '../state/useMounted';
import { useNavigate } from '../state/navigation';
import { vmPath } from '../state/router';
import type { VM } from '../types';
import { cloneBlocked, cloneNameProblem } from '../vmSizing';
import { AppLink } from './AppLink';
import { FormError } from './FormError';

interface Props {
  agentId: string;
  vm: VM;
  ops: Pick<VmOps, 'submit'>;
  /** The names of the VMs on the host, when known: a clone may not take one. */
  taken?: readonly string[];
}

interface Outcome {
  ok: boolean;
  text: string;
  name: string;
}

function OutcomeLine({ outcome, agentId }: { outcome: Outcome; agentId: string }) {
  const navigate = useNavigate();
  const href = vmPath(agentId, outcome.name);
  return (
    <p class={outcome.ok ? 'success' : 'error'} role="status" data-testid="clone-outcome" data-ok={String(outcome.ok)}>
      {outcome.text}{' '}
      {outcome.ok && (
        <AppLink href={href} onNavigate={navigate} testId="clone-link">
          Open {outcome.name}
        </AppLink>
      )}
    </p>
  );
}

export function CloneForm({ agentId, vm, ops, taken = [] }: Props) {
  const [name, setName] = useState('');
  const [linked, setLinked] = useState(false);
  const [start, setStart] = useState(false);
  const [nameError, setNameError] = useState('');
  const [failure, setFailure] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const mounted = useMounted();
  const blocked = cloneBlocked(vm);

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const wanted = name.trim();
    const problem = cloneNameProblem(wanted, taken);
    setNameError(problem ?? '');
    setFailure('');
    if (problem !== null || blocked !== null) return;
    setBusy(true);
    setOutcome(null);
    try {
      const job = await ops.submit(agentId, vm.uuid, { action: 'clone', name: wanted, linked, start });
      if (!mounted.current) return;
      const ok = job.status === 'succeeded';
      const made = `Made ${wanted}, a ${linked ? 'linked' : 'full'} clone of ${vm.name}.`;
      setOutcome({ ok, name: wanted, text: ok ? made : (jobFailure(job) ?? 'The clone failed.') });
    } catch (error) {
      if (!mounted.current) return;
      if (error instanceof ApiError && (error.code === 'name_taken' || error.fields.name)) setNameError(error.message);
      else setFailure(errorMessage(error));
    } finally {
      if (mounted.current) setBusy(false);
    }
  }

  return (
    <form class="inline-form stacked" data-testid="clone-form" onSubmit={submit} noValidate>
      <h3>Clone {vm.name}</h3>
      {blocked && (
        <p class="muted" data-testid="clone-blocked">
          {blocked}
        </p>
      )}
      <label>
        Name of the clone
        <input
          name="clone_name"
          type="text"
          autocomplete="off"
          spellcheck={false}
          maxLength={MAX_CLONE_NAME}
          value={name}
          aria-invalid={nameError !== ''}
          onInput={(event) => setName(event.currentTarget.value)}
        />
      </label>
      {nameError && (
        <p class="error" data-testid="field-error" data-field="name">
          {nameError}
        </p>
      )}
      <fieldset>
        <legend>Disks</legend>
        <label>
          <input type="radio" name="clone_mode" value="full" checked={!linked} onChange={() => setLinked(false)} /> Full
          copy: the clone's disks are its own (takes as long as copying them)
        </label>
        <label>
          <input type="radio" name="clone_mode" value="linked" checked={linked} onChange={() => setLinked(true)} /> Linked
          overlay: made at once and small, but reads {vm.name}'s disks — keep {vm.name} shut off and unchanged while the
          clone lives
        </label>
      </fieldset>
      <label>
        <input name="clone_start" type="checkbox" checked={start} onChange={(event) => setStart(event.currentTarget.checked)} />{' '}
        Start the clone once it is made
      </label>
      <FormError message={failure} testId="clone-error" />
      <div class="actions">
        <button type="submit" class="primary" data-action="confirm-clone" disabled={busy || blocked !== null}>
          {busy ? 'Cloning…' : 'Clone'}
        </button>
      </div>
      {outcome && <OutcomeLine outcome={outcome} agentId={agentId} />}
    </form>
  );
}
