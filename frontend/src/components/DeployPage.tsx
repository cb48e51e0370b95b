// Deploy a VM (issue 16): a host, a profile, the profile's inputs, the installers it may run (each
// with its own inputs) and the sizing, every form drawn by SchemaForm from the schemas the API
// serves. The page checks what the schemas allow before sending; the server's refusals come back by
// field ("inputs.hostname", "installers.nginx.port", "sizing.vcpus", "network.forwards[0].host_port")
// and show beside each. The Network choice (DeployNetwork.tsx) is not a profile input: it sits beside
// the sizing. Once the job is accepted, DeployProgress follows it.

import { useState } from 'preact/hooks';
import { ApiError, errorMessage, type Api } from '../api';
import { checkNetwork, initialNetwork, networkRequest, profileNetwork, type NetworkDraft } from '../deployNetwork';
import { checkValues, collectValues, errorsAt, errorsUnder, initialValues, type FormValues } from '../schemaForm';
import type { ConsoleOps } from '../state/consoleJoin';
import { useNavigate } from '../state/navigation';
import { PAGE_PATHS } from '../state/router';
import { useResource } from '../state/useResource';
import type { Agent, DeployedJob, DeployRequest, InstallerList, Manifest, SshKey } from '../types';
import { AppLink } from './AppLink';
import { NetworkPicker } from './DeployNetwork';
import { DeployProgress } from './DeployProgress';
import { FormError } from './FormError';
import { SchemaForm } from './SchemaForm';

type DeployApi = Pick<
  Api,
  'listAgents' | 'listProfiles' | 'listInstallers' | 'listSshKeys' | 'deploy' | 'getJob' | 'getJobResult'
>;

interface Props {
  api: DeployApi;
  /** Opens the deployed VM's serial console (the hand-off's Console button). */
  consoles?: Pick<ConsoleOps, 'open'>;
  pollMs?: number;
}

interface Catalogue {
  hosts: Agent[];
  profiles: Manifest[];
  installers: InstallerList;
  sshKeys: SshKey[];
}

interface Choice {
  profile: Manifest;
  inputs: FormValues;
  /** The installers ticked, with their inputs. */
  installers: Record<string, FormValues>;
  sizing: FormValues;
  network: NetworkDraft;
}

async function loadCatalogue(api: DeployApi): Promise<Catalogue> {
  const [agents, profiles, installers, sshKeys] = await Promise.all([
    api.listAgents(),
    api.listProfiles(),
    api.listInstallers(),
    api.listSshKeys(),
  ]);
  const hosts = agents.filter((agent) => agent.status === 'online' && agent.approval === 'approved');
  return { hosts, profiles, installers, sshKeys };
}

function choose(profile: Manifest): Choice {
  return {
    profile,
    inputs: initialValues(profile.inputs_schema),
    installers: {},
    sizing: profile.sizing_schema ? initialValues(profile.sizing_schema) : {},
    network: initialNetwork(),
  };
}

/** The installers a profile's first boot can run (its `first_boot.installers`, and theirs naming its kind). */
export function installersFor(profile: Manifest, installers: Manifest[]): Manifest[] {
  const firstBoot = profile.manifest.first_boot as { kind?: string; installers?: boolean } | undefined;
  if (!firstBoot?.installers) return [];
  return installers.filter((one) => {
    const kinds = one.manifest.first_boot;
    return Array.isArray(kinds) && kinds.includes(firstBoot.kind);
  });
}

/** Installers by id. */
type Installers = Record<string, Manifest>;

function request(choice: Choice, byId: Installers): DeployRequest {
  const network = networkRequest(choice.network);
  return {
    profile: choice.profile.id,
    inputs: collectValues(choice.profile.inputs_schema, choice.inputs),
    installers: Object.entries(choice.installers).map(([id, values]) => ({
      id,
      inputs: collectValues(byId[id].inputs_schema, values),
    })),
    sizing: choice.profile.sizing_schema ? collectValues(choice.profile.sizing_schema, choice.sizing) : {},
    ...(network === undefined ? {} : { network }),
  };
}

function clientErrors(choice: Choice, byId: Installers): Record<string, string> {
  const sizing = choice.profile.sizing_schema;
  return {
    ...errorsAt(checkValues(choice.profile.inputs_schema, choice.inputs), 'inputs'),
    ...Object.assign(
      {},
      ...Object.entries(choice.installers).map(([id, values]) =>
        errorsAt(checkValues(byId[id].inputs_schema, values), `installers.${id}`),
      ),
    ),
    ...(sizing ? errorsAt(checkValues(sizing, choice.sizing), 'sizing') : {}),
    ...checkNetwork(choice.network),
  };
}

/** Who logs in to the deployed VM: the profile's first user, or Windows' Administrator. */
function firstUser(choice: Choice): string | null {
  const sent = collectValues(choice.profile.inputs_schema, choice.inputs);
  if (typeof sent.username === 'string') return sent.username;
  const firstBoot = choice.profile.manifest.first_boot as { kind?: string } | undefined;
  return firstBoot?.kind === 'windows-unattend' ? 'Administrator' : null;
}

function InstallerPicker(props: {
  catalogue: Catalogue;
  choice: Choice;
  errors: Record<string, string>;
  onChange: (choice: Choice) => void;
}) {
  const { catalogue, choice, errors, onChange } = props;
  const offered = installersFor(choice.profile, catalogue.installers.installers);
  if (offered.length === 0) return null;
  function toggle(one: Manifest, on: boolean) {
    const { [one.id]: _dropped, ...rest } = choice.installers;
    onChange({ ...choice, installers: on ? { ...rest, [one.id]: initialValues(one.inputs_schema) } : rest });
  }
  return (
    <fieldset class="stack" data-testid="deploy-installers-choice">
      <legend>Installers (run at first boot, in this order)</legend>
      {errors.installers && <p class="error">{`Installers ${errors.installers}`}</p>}
      {offered.map((one) => (
        <div key={one.id} class="stack" data-installer={one.id}>
          <label class="check">
            <input
              type="checkbox"
              name="installer"
              value={one.id}
              checked={one.id in choice.installers}
              onChange={(event) => toggle(one, event.currentTarget.checked)}
            />
            <span>
              {one.title} <span class="muted">— {one.description}</span>
            </span>
          </label>
          {one.id in choice.installers && (
            <SchemaForm
              schema={one.inputs_schema}
              values={choice.installers[one.id]}
              onChange={(values) => onChange({ ...choice, installers: { ...choice.installers, [one.id]: values } })}
              errors={errorsUnder(errors, `installers.${one.id}`)}
              idPrefix={`installer-${one.id}`}
              sshKeys={catalogue.sshKeys}
            />
          )}
        </div>
      ))}
    </fieldset>
  );
}

function DeployForm({ api, catalogue, onDeployed }: {
  api: DeployApi;
  catalogue: Catalogue;
  onDeployed: (job: DeployedJob, user: string | null) => void;
}) {
  const [agentId, setAgentId] = useState(catalogue.hosts[0]?.agent_id ?? '');
  const [choice, setChoice] = useState<Choice | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState('');
  const [busy, setBusy] = useState(false);
  const byId: Installers = Object.fromEntries(catalogue.installers.installers.map((one) => [one.id, one]));

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    setFailure('');
    if (!agentId) return setFailure('Choose a host: one that is online and approved.');
    if (!choice) return setFailure('Choose a profile.');
    const found = clientErrors(choice, byId);
    setErrors(found);
    if (Object.keys(found).length > 0) return setFailure('Some fields need changing: see beside each.');
    setBusy(true);
    try {
      onDeployed(await api.deploy(agentId, request(choice, byId)), firstUser(choice));
    } catch (error) {
      if (error instanceof ApiError) setErrors(error.fields);
      setFailure(errorMessage(error));
    } finally {
      setBusy(false);
    }
  }

  const profile = choice?.profile;
  return (
    <form class="stack card" data-testid="deploy-form" onSubmit={submit} noValidate>
      <label>
        Host
        <select name="host" value={agentId} onChange={(event) => setAgentId(event.currentTarget.value)}>
          {catalogue.hosts.length === 0 && <option value="">No host is online and approved</option>}
          {catalogue.hosts.map((host) => (
            <option key={host.agent_id} value={host.agent_id}>
              {host.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Profile
        <select
          name="profile"
          value={profile?.id ?? ''}
          onChange={(event) => {
            const next = catalogue.profiles.find((p) => p.id === event.currentTarget.value);
            setChoice(next ? choose(next) : null);
            setErrors({});
          }}
        >
          <option value="">Choose…</option>
          {catalogue.profiles.map((p) => (
            <option key={p.id} value={p.id}>
              {p.title}
            </option>
          ))}
        </select>
      </label>
      {errors.profile && <p class="error">{`Profile ${errors.profile}`}</p>}
      {choice && profile && (
        <>
          <p class="muted">{profile.description}</p>
          <fieldset data-testid="deploy-inputs">
            <legend>Settings</legend>
            <SchemaForm
              schema={profile.inputs_schema}
              values={choice.inputs}
              onChange={(inputs) => setChoice({ ...choice, inputs })}
              errors={errorsUnder(errors, 'inputs')}
              idPrefix="inputs"
              sshKeys={catalogue.sshKeys}
            />
          </fieldset>
          <InstallerPicker catalogue={catalogue} choice={choice} errors={errors} onChange={setChoice} />
          {profile.sizing_schema && (
            <fieldset data-testid="deploy-sizing">
              <legend>Size</legend>
              <SchemaForm
                schema={profile.sizing_schema}
                values={choice.sizing}
                onChange={(sizing) => setChoice({ ...choice, sizing })}
                errors={errorsUnder(errors, 'sizing')}
                idPrefix="sizing"
              />
            </fieldset>
          )}
          <NetworkPicker
            draft={choice.network}
            profileNetwork={profileNetwork(profile.manifest)}
            errors={errors}
            onChange={(network) => setChoice({ ...choice, network })}
          />
        </>
      )}
      {errors.name && <p class="error">{`Name ${errors.name}`}</p>}
      <FormError message={failure} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Deploying…' : 'Deploy'}
      </button>
    </form>
  );
}

export function DeployPage({ api, consoles, pollMs }: Props) {
  const catalogue = useResource(() => loadCatalogue(api));
  const [deployed, setDeployed] = useState<{ job: DeployedJob; user: string | null } | null>(null);
  const navigate = useNavigate();
  return (
    <main class="layout">
      <h1>Deploy a VM</h1>
      <p class="muted">
        Profiles and installers come from manifests: the built-ins and{' '}
        <AppLink href={PAGE_PATHS.manifests} onNavigate={navigate} testId="deploy-manifests-link">
          your own
        </AppLink>
        .
      </p>
      <FormError message={catalogue.error} />
      {catalogue.loading && !catalogue.data && <p class="muted">Loading…</p>}
      {catalogue.data && (
        <DeployForm api={api} catalogue={catalogue.data} onDeployed={(job, user) => setDeployed({ job, user })} />
      )}
      {deployed && catalogue.data && (
        <DeployProgress
          key={deployed.job.job_id}
          api={api}
          job={deployed.job}
          user={deployed.user}
          host={catalogue.data.hosts.find((one) => one.agent_id === deployed.job.agent_id)?.name ?? deployed.job.agent_id}
          exitCodes={catalogue.data.installers.exit_codes}
          consoles={consoles}
          pollMs={pollMs}
        />
      )}
    </main>
  );
}
