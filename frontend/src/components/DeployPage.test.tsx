import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import { anAgent, aJob } from '../test/fixtures';
import { fill } from '../test/renderApp';
import type { DeployRequest, Job, Manifest, ResultDocument, SshKey } from '../types';
import { DeployPage } from './DeployPage';

// A profile and an installer as GET /api/profiles and GET /api/installers serve them (trimmed).
const UBUNTU: Manifest = {
  id: 'ubuntu-24.04', kind: 'profile', version: 1, title: 'Ubuntu Server 24.04 LTS', description: 'Noble.',
  builtin: true,
  manifest: { first_boot: { kind: 'cloud-init', installers: true } },
  inputs_schema: {
    properties: {
      hostname: { type: 'string', 'x-kind': 'hostname', title: 'Host name', maxLength: 63,
        pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$' },
      username: { type: 'string', 'x-kind': 'string', title: 'First user', default: 'fleetadmin' },
      ssh_keys: { type: 'array', 'x-kind': 'ssh-key', 'x-multiple': true, title: 'SSH public keys' },
      password: { type: 'string', 'x-kind': 'password', title: 'Password', writeOnly: true, minLength: 8 },
    },
    required: ['hostname', 'username', 'ssh_keys'],
    'x-order': ['hostname', 'username', 'ssh_keys', 'password'],
  },
  sizing_schema: {
    properties: { vcpus: { type: 'integer', 'x-kind': 'integer', title: 'Virtual CPUs', minimum: 1, maximum: 64, default: 2 } },
    'x-order': ['vcpus'],
  },
};
const NGINX: Manifest = {
  id: 'nginx', kind: 'installer', version: 1, title: 'nginx web server', description: 'Serves HTTP.', builtin: true,
  manifest: { first_boot: ['cloud-init'] },
  inputs_schema: {
    properties: { port: { type: 'integer', 'x-kind': 'port', title: 'HTTP port', minimum: 1, maximum: 65535, default: 80 } },
    'x-order': ['port'],
  },
};
const KEY: SshKey = {
  key_id: 'sshk_' + '1'.repeat(32), name: 'laptop', public_key: 'ssh-ed25519 AAAA', fingerprint: 'SHA256:abc',
  type: 'ssh-ed25519', bits: 256, created_ms: 1,
};

const WINDOWS: Manifest = {
  id: 'windows-server-2022', kind: 'profile', version: 1, title: 'Windows Server 2022', description: 'Eval.',
  builtin: true,
  manifest: { first_boot: { kind: 'windows-unattend', installers: false } },
  inputs_schema: {
    properties: {
      computer_name: { type: 'string', 'x-kind': 'string', title: 'Computer name', maxLength: 15 },
      admin_password: { type: 'string', 'x-kind': 'password', title: 'Administrator password', writeOnly: true },
      iso_source: { type: 'string', 'x-kind': 'select', title: 'Installation ISO from', enum: ['url', 'pool'], default: 'url',
        'x-options': [{ value: 'url', label: 'A URL' }, { value: 'pool', label: 'A volume' }] },
      iso_url: { type: 'string', 'x-kind': 'string', title: 'ISO URL', maxLength: 2000,
        'x-visible-if': { input: 'iso_source', equals: 'url' } },
      iso_volume: { type: 'string', 'x-kind': 'string', title: 'Volume', maxLength: 255,
        'x-visible-if': { input: 'iso_source', equals: 'pool' } },
    },
    required: ['computer_name'],
    allOf: [{ then: { required: ['iso_url'] } }, { then: { required: ['iso_volume'] } }],
    'x-order': ['computer_name', 'admin_password', 'iso_source', 'iso_url', 'iso_volume'],
  },
};

function fakeApi(answers: Array<Job | ApiError>, jobs: Job[], data: Record<string, unknown> = {
  vm_uuid: 'u', name: 'web1', addresses: ['192.168.122.50'], installers: [{ id: 'nginx', exit: 0 }],
}) {
  const sent: DeployRequest[] = [];
  let polls = 0;
  const api = {
    listAgents: async () => [anAgent(), anAgent({ agent_id: 'agt-2', name: 'off', status: 'lost' })],
    listProfiles: async () => [UBUNTU, WINDOWS],
    listInstallers: async () => ({
      installers: [NGINX],
      exit_codes: { '0': { meaning: 'ok', explanation: 'The installer finished.' } },
    }),
    listSshKeys: async () => [KEY],
    deploy: async (_agentId: string, body: DeployRequest) => {
      sent.push(body);
      const answer = answers.shift()!;
      if (answer instanceof ApiError) throw answer;
      return answer;
    },
    getJob: async () => jobs[Math.min(polls++, jobs.length - 1)],
    getJobResult: async (): Promise<ResultDocument> => ({
      job_id: 'job-9', attempt: 1, op: 'vm.deploy', ok: true, vm: null, error: null, duration_ms: 1,
      data,
    }),
  };
  return { api, sent };
}

async function openForm(api: Parameters<typeof DeployPage>[0]['api'], opened: string[][] = []) {
  const consoles = { open: async (agentId: string, vmUuid: string) => void opened.push([agentId, vmUuid]) };
  render(<DeployPage api={api} consoles={consoles} pollMs={5} />);
  const form = await screen.findByTestId('deploy-form');
  fill(form, { profile: 'ubuntu-24.04' });
  return form;
}

describe('Deploy a VM', () => {
  it('offers online approved hosts and draws the profile form from its schema', async () => {
    const { api } = fakeApi([], []);
    const form = await openForm(api);
    const hosts = within(form).getByRole('combobox', { name: 'Host' });
    expect([...(hosts as HTMLSelectElement).options].map((o) => o.text)).toEqual(['hv1']);
    const names = [...form.querySelectorAll('[data-testid="deploy-inputs"] [data-field]')].map((f) =>
      f.getAttribute('data-field'),
    );
    expect(names).toEqual(['hostname', 'username', 'ssh_keys', 'password']);
    expect((screen.getByLabelText('Password') as HTMLInputElement).type).toBe('password');
    expect((screen.getByLabelText(/First user/) as HTMLInputElement).value).toBe('fleetadmin');
  });

  it("checks the schema's rules before sending, beside each field", async () => {
    const { api, sent } = fakeApi([], []);
    const form = await openForm(api);
    fill(form, { hostname: 'bad_host!' });
    fireEvent.submit(form);
    const errors = await screen.findAllByTestId('field-error');
    expect(errors.map((e) => e.textContent)).toEqual([
      "Host name must be a host name: letters, digits and '-', not starting or ending with '-'.",
      'SSH public keys is required.',
    ]);
    expect(form.querySelector('[data-field="hostname"] [data-testid="field-error"]')).not.toBeNull();
    expect(sent).toEqual([]);
  });

  it("shows the server's refusals beside their fields, then deploys and follows the job to the hand-off", async () => {
    const refused = new ApiError(400, 'invalid_inputs', 'The deployment has invalid fields.', null, {
      'inputs.ssh_keys': 'is not an accepted OpenSSH public key: it is cut short.',
      'installers.nginx.port': 'must be from 1 to 65535.',
    });
    const queued = { ...aJob({ job_id: 'job-9', op: 'vm.deploy' }) };
    const running = aJob({ job_id: 'job-9', op: 'vm.deploy', status: 'running', progress: { step: 'image', percent: 40 } });
    const done = aJob({ job_id: 'job-9', op: 'vm.deploy', status: 'succeeded' });
    const { api, sent } = fakeApi([refused, queued], [running, done]);
    const opened: string[][] = [];
    const form = await openForm(api, opened);
    fill(form, { hostname: 'web1', ssh_keys: 'ssh-ed25519 AAAA-cut' });
    fireEvent.click(within(form).getByRole('checkbox', { name: /nginx/ }));
    fireEvent.submit(form);

    await waitFor(() => expect(screen.getAllByTestId('field-error')).toHaveLength(2));
    const beside = (field: string) => form.querySelector(`[data-field="${field}"] [data-testid="field-error"]`)?.textContent;
    expect(beside('ssh_keys')).toBe('SSH public keys is not an accepted OpenSSH public key: it is cut short.');
    expect(beside('port')).toBe('HTTP port must be from 1 to 65535.');
    expect(sent[0]).toEqual({
      profile: 'ubuntu-24.04',
      inputs: { hostname: 'web1', username: 'fleetadmin', ssh_keys: ['ssh-ed25519 AAAA-cut'] },
      installers: [{ id: 'nginx', inputs: { port: 80 } }],
      sizing: { vcpus: 2 },
    });

    fill(form, { ssh_keys: '' });
    fireEvent.click(within(form).getByRole('checkbox', { name: /laptop/ }));
    fireEvent.submit(form);
    expect((await screen.findByTestId('deploy-status')).textContent).toBe('queued');
    expect(sent[1].inputs.ssh_keys).toEqual([KEY.key_id]);
    expect((await screen.findByTestId('deploy-step')).textContent).toContain('image');
    expect((await screen.findByTestId('deploy-ssh')).textContent).toBe('ssh fleetadmin@192.168.122.50');
    expect(screen.getByTestId('deploy-status').textContent).toBe('succeeded');
    expect(screen.getByTestId('deploy-installers').textContent).toContain('exit 0 — ok');
    fireEvent.click(screen.getByTestId('deploy-console'));
    await waitFor(() => expect(opened).toEqual([['agt-1', 'u']]));
  });
});

describe('Deploy a VM: the network', () => {
  it("sends no network for the profile's, a name for another, and shows the server's refusal beside it", async () => {
    const refused = new ApiError(400, 'invalid_inputs', 'The deployment has invalid fields.', null, {
      network: "must name a libvirt network of the host (letters, digits, '.', '_', '-').",
    });
    const queued = aJob({ job_id: 'job-9', op: 'vm.deploy' });
    const { api, sent } = fakeApi([refused, queued], [queued]);
    const form = await openForm(api);
    const picker = within(form).getByTestId('deploy-network');
    expect((within(picker).getByRole('radio', { name: "The profile's libvirt network (default)" }) as HTMLInputElement).checked)
      .toBe(true);
    fill(form, { hostname: 'web1' });
    fireEvent.click(within(form).getByRole('checkbox', { name: /laptop/ }));
    fireEvent.click(within(picker).getByRole('radio', { name: /Another libvirt network/ }));
    fireEvent.submit(form);
    expect(await within(picker).findByTestId('field-error')).toHaveProperty('textContent', 'Network is required: the name of a libvirt network of the host.');
    fill(form, { 'network-name': 'lab net' });
    fireEvent.submit(form);
    await waitFor(() => expect(form.querySelector('[data-field="network-name"] [data-testid="field-error"]')?.textContent)
      .toBe("Network must name a libvirt network of the host (letters, digits, '.', '_', '-')."));
    expect(sent[0].network).toBe('lab net');
    fill(form, { 'network-name': 'lab' });
    fireEvent.submit(form);
    await screen.findByTestId('deploy-status');
    expect(sent[1].network).toBe('lab');
  });

  it('sends the user-mode NIC with its forwards, each refusal beside its forward, and hands off ssh -p', async () => {
    const refused = new ApiError(400, 'invalid_inputs', 'The deployment has invalid fields.', null, {
      'network.forwards[1].address': 'must be an IPv4 address of the host, such as 127.0.0.1.',
    });
    const queued = aJob({ job_id: 'job-9', op: 'vm.deploy' });
    const done = aJob({ job_id: 'job-9', op: 'vm.deploy', status: 'succeeded' });
    const result = { vm_uuid: 'u', name: 'web1', addresses: [], forwards: ['127.0.0.1:2200->22/tcp', '0.0.0.0:8080->80/tcp'] };
    const { api, sent } = fakeApi([refused, queued], [done], result);
    const form = await openForm(api);
    fill(form, { hostname: 'web1' });
    fireEvent.click(within(form).getByRole('checkbox', { name: /laptop/ }));
    fireEvent.click(within(form).getByRole('radio', { name: /User-mode NIC/ }));
    fireEvent.click(within(form).getByRole('button', { name: 'Add a forward' }));
    fill(form, { 'forward-0-host_port': '2200', 'forward-1-host_port': '2200', 'forward-1-guest_port': '80' });
    fireEvent.submit(form);
    const beside = (field: string) => form.querySelector(`[data-field="${field}"] [data-testid="field-error"]`)?.textContent;
    await waitFor(() => expect(beside('forward-1-host_port')).toBe('Host port is forwarded twice.'));
    expect(sent).toEqual([]);

    fill(form, { 'forward-1-host_port': '8080', 'forward-1-address': '0.0.0.0' });
    fireEvent.submit(form);
    await waitFor(() => expect(beside('forward-1-address'))
      .toBe('Host address must be an IPv4 address of the host, such as 127.0.0.1.'));
    expect(sent[0].network).toEqual({ mode: 'user', forwards: [
      { host_port: 2200, guest_port: 22 }, { host_port: 8080, guest_port: 80, address: '0.0.0.0' }] });

    fireEvent.submit(form);
    expect((await screen.findByTestId('deploy-ssh')).textContent).toBe('ssh -p 2200 fleetadmin@127.0.0.1');
    expect(screen.getByTestId('deploy-ssh-jump').textContent).toBe('ssh -J hv1 -p 2200 fleetadmin@127.0.0.1');
    expect(screen.getByTestId('deploy-ssh-where').textContent).toContain('works from the host itself');
    expect([...screen.getByTestId('deploy-forwards').querySelectorAll('li')].map((li) => li.textContent))
      .toEqual(result.forwards);
    expect(screen.queryByText(/No address is known/)).toBeNull();
  });
});

describe('Deploy a VM: Windows', () => {
  it('follows x-visible-if, sends no hidden field, and hands off the generated password once', async () => {
    const queued = { ...aJob({ job_id: 'job-w', op: 'vm.deploy' }), generated_password: 'Gen-3rated-Pw!' };
    const { api, sent } = fakeApi([queued], [aJob({ job_id: 'job-w', op: 'vm.deploy', status: 'running' })]);
    render(<DeployPage api={api} pollMs={5} />);
    const form = await screen.findByTestId('deploy-form');
    fill(form, { profile: 'windows-server-2022', computer_name: 'win1', iso_url: 'https://x.test/w.iso' });
    expect(form.querySelector('[name="iso_volume"]')).toBeNull();
    fill(form, { iso_source: 'pool' });
    expect(form.querySelector('[name="iso_url"]')).toBeNull();
    fill(form, { iso_volume: 'eval.iso' });
    expect(within(form).queryByTestId('deploy-installers-choice')).toBeNull();
    fireEvent.submit(form);

    expect((await screen.findByTestId('deploy-password')).textContent).toBe('Gen-3rated-Pw!');
    expect(screen.getByTestId('deploy-user').textContent).toBe('Administrator');
    expect(sent[0].inputs).toEqual({ computer_name: 'win1', iso_source: 'pool', iso_volume: 'eval.iso' });
  });
});
