// A deployment under way, then what to hand off: the vm.deploy job's step and percent (polled while
// the page is seen, until the job is final), then the user, the password generated for it (shown
// this once: it is only in this component's state), the SSH command (through a forward to port 22
// on a user-mode NIC, else at the VM's address; deployNetwork.ts), the forwards, and each installer's
// exit code in words.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from '../api';
import { sshHandoff } from '../deployNetwork';
import { documentVisibility } from '../state/changeFeed';
import type { ConsoleOps } from '../state/consoleJoin';
import { watchJob } from '../state/jobWatch';
import { useAction } from '../state/useAction';
import type { DeployedJob, DeployResult, ExitCodeMeaning, Job } from '../types';
import { CopyField } from './CopyField';
import { FormError } from './FormError';

export const DEPLOY_POLL_MS = 1500;

interface Props {
  api: Pick<Api, 'getJob' | 'getJobResult'>;
  job: DeployedJob;
  /** The first user's name, when the profile has one (Ubuntu's `username`; Windows: Administrator). */
  user: string | null;
  /** The host's name (for `ssh -J` through it to a forward on 127.0.0.1). */
  host: string;
  exitCodes: Record<string, ExitCodeMeaning>;
  consoles?: Pick<ConsoleOps, 'open'>;
  pollMs?: number;
}

function deployResult(data: unknown): DeployResult | null {
  return typeof data === 'object' && data !== null ? (data as DeployResult) : null;
}

function ProgressLine({ job }: { job: Job }) {
  const progress = job.progress ?? null;
  return (
    <div class="stack" data-testid="deploy-progress">
      <p>
        Job <code>{job.job_id}</code>: <strong data-testid="deploy-status">{job.status}</strong>
        {progress && (
          <span data-testid="deploy-step">
            {' '}— {progress.step}
            {progress.detail ? ` (${progress.detail})` : ''}
          </span>
        )}
      </p>
      {progress?.percent !== undefined && (
        <progress max={100} value={progress.percent} aria-label="Deployment progress">
          {progress.percent}%
        </progress>
      )}
    </div>
  );
}

function Installers({ result, exitCodes }: { result: DeployResult; exitCodes: Record<string, ExitCodeMeaning> }) {
  if (!result.installers?.length) return null;
  return (
    <ul data-testid="deploy-installers">
      {result.installers.map((one) => {
        const meaning = exitCodes[String(one.exit)];
        return (
          <li key={one.id}>
            <code>{one.id}</code>: exit {one.exit} — {meaning?.meaning ?? one.meaning ?? 'unknown'}
            {meaning && <span class="muted"> ({meaning.explanation})</span>}
            {one.last_lines && one.last_lines.length > 0 && <pre class="mono">{one.last_lines.join('\n')}</pre>}
          </li>
        );
      })}
    </ul>
  );
}

interface ConsoleLinkProps {
  consoles: Pick<ConsoleOps, 'open'>;
  agentId: string;
  vmUuid: string;
}

function ConsoleLink({ consoles, agentId, vmUuid }: ConsoleLinkProps) {
  const action = useAction();
  return (
    <p>
      <button
        type="button"
        data-testid="deploy-console"
        disabled={action.busy}
        onClick={() => void action.run(() => consoles.open(agentId, vmUuid))}
      >
        {action.busy ? 'Opening…' : 'Console'}
      </button>
      <FormError message={action.error} testId="action-error" />
    </p>
  );
}

function Forwards({ forwards }: { forwards: string[] }) {
  return (
    <div>
      <p>Forwarded from the host:</p>
      <ul data-testid="deploy-forwards">
        {forwards.map((forward) => (
          <li key={forward}>
            <code>{forward}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Handoff(props: Omit<Props, 'api' | 'pollMs'> & { result: DeployResult | null }) {
  const { job, user, host, result, exitCodes, consoles } = props;
  const ssh = sshHandoff(user, result, host);
  const forwards = result?.forwards ?? [];
  return (
    <div class="stack" data-testid="deploy-handoff">
      {job.generated_password && (
        <div class="once" role="status">
          <p>
            <strong>Copy this password now: you will not see it again.</strong>
          </p>
          <CopyField label="Generated password" value={job.generated_password} testId="deploy-password" />
        </div>
      )}
      {user && (
        <p>
          User: <code data-testid="deploy-user">{user}</code>
        </p>
      )}
      {ssh && <CopyField label="Log in with" value={ssh.command} testId="deploy-ssh" />}
      {ssh?.jump && (
        <>
          <p class="muted" data-testid="deploy-ssh-where">
            That works from the host itself (the forward listens on 127.0.0.1). From elsewhere, through the host:
          </p>
          <CopyField label="Log in through the host" value={ssh.jump} testId="deploy-ssh-jump" />
        </>
      )}
      {forwards.length > 0 && <Forwards forwards={forwards} />}
      {job.final && !result?.addresses?.length && forwards.length === 0 && (
        <p class="muted">No address is known for the VM yet (its host's DHCP leases).</p>
      )}
      {consoles && result?.vm_uuid && (
        <ConsoleLink consoles={consoles} agentId={job.agent_id} vmUuid={result.vm_uuid} />
      )}
      {result && <Installers result={result} exitCodes={exitCodes} />}
    </div>
  );
}

export function DeployProgress(props: Props) {
  const { api, job: started, user, host, exitCodes, consoles, pollMs = DEPLOY_POLL_MS } = props;
  const [job, setJob] = useState<Job>(started);
  const [result, setResult] = useState<DeployResult | null>(null);
  const card = useRef<HTMLElement>(null);
  useEffect(() => card.current?.scrollIntoView?.({ block: 'nearest' }), []);

  useEffect(() => {
    let live = true;
    const stop = watchJob(started.job_id, {
      getJob: api.getJob,
      intervalMs: pollMs,
      visible: () => !documentVisibility.hidden(),
      onUpdate: (next) => live && setJob(next),
      onFinal: (final) => {
        if (final.status !== 'succeeded') return;
        api.getJobResult(final.job_id).then(
          (doc) => live && setResult(deployResult(doc.data)),
          () => undefined, // the job's summary still says how it ended
        );
      },
    });
    return () => {
      live = false;
      stop();
    };
  }, [api, started.job_id, pollMs]);

  return (
    <section ref={card} class="card" aria-labelledby="deploy-progress-title" data-testid="deploy-job">
      <h2 id="deploy-progress-title">Deployment</h2>
      <ProgressLine job={job} />
      {job.summary && <p data-testid="deploy-summary">{job.summary}</p>}
      <Handoff job={{ ...started, ...job }} user={user} host={host} result={result} exitCodes={exitCodes} consoles={consoles} />
    </section>
  );
}
