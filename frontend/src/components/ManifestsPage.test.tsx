import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import type { Manifest, OwnManifest } from '../types';
import { ManifestsPage } from './ManifestsPage';

const SCHEMA = { properties: {}, 'x-order': [] };
const UBUNTU: Manifest = {
  id: 'ubuntu-24.04', kind: 'profile', version: 1, title: 'Ubuntu Server 24.04 LTS', description: '', builtin: true,
  manifest: {}, inputs_schema: SCHEMA,
};
const NGINX: Manifest = { ...UBUNTU, id: 'nginx', kind: 'installer', title: 'nginx web server' };
const MINE: OwnManifest = {
  ...UBUNTU, id: 'lab-debian', title: 'Lab Debian', version: 3, builtin: false, text: 'kind: profile', created_ms: 1_700_000_000_000,
};

function fakeApi(uploads: Array<OwnManifest | ApiError>) {
  const own: OwnManifest[] = [MINE];
  const sent: string[] = [];
  const api = {
    listManifests: async () => [...own],
    // The profiles list holds the caller's own too: the page shows only the built-ins from it.
    listProfiles: async () => [UBUNTU, ...own],
    listInstallers: async () => ({ installers: [NGINX], exit_codes: {} }),
    uploadManifest: async (text: string) => {
      sent.push(text);
      const answer = uploads.shift()!;
      if (answer instanceof ApiError) throw answer;
      own.push(answer);
      return answer;
    },
    deleteManifest: vi.fn(async (id: string) => {
      const index = own.findIndex((one) => one.id === id);
      return own.splice(index, 1)[0];
    }),
  };
  return { api, sent, own };
}

function typeManifest(text: string) {
  fireEvent.input(screen.getByRole('textbox', { name: /Manifest \(YAML\)/ }), { target: { value: text } });
  fireEvent.submit(screen.getByTestId('manifest-form'));
}

describe('Manifests page', () => {
  it('lists your manifests and the built-ins, and links the schema for authors', async () => {
    render(<ManifestsPage api={fakeApi([]).api} onNavigate={() => {}} />);
    const row = await screen.findByTestId('manifest-row');
    expect(row.textContent).toContain('lab-debian');
    expect(row.textContent).toContain('Lab Debian');
    expect(row.textContent).toContain('profile');
    expect(row.textContent).toContain('3');
    expect(screen.getAllByTestId('builtin-row').map((r) => r.dataset.id)).toEqual(['ubuntu-24.04', 'nginx']);
    expect(screen.getByTestId('manifest-schema-link').getAttribute('href')).toBe('/api/manifest-schema');
  });

  it("shows every path the server refused beside the text, in the document's order, and keeps the text", async () => {
    const refusal = new ApiError(400, 'invalid_manifest', 'The manifest is not valid: …', null, {
      'sizing.vcpus': 'must have min <= default <= max.',
      'inputs[1].default': 'is greater than max.',
    });
    const { api, sent } = fakeApi([refusal]);
    render(<ManifestsPage api={api} onNavigate={() => {}} />);
    await screen.findByTestId('manifest-row');
    typeManifest('kind: profile\nid: bad');

    const problems = await screen.findAllByTestId('manifest-problem');
    expect(problems.map((p) => p.textContent)).toEqual([
      'inputs[1].default is greater than max.',
      'sizing.vcpus must have min <= default <= max.',
    ]);
    expect(sent).toEqual(['kind: profile\nid: bad']);
    expect(screen.getByRole<HTMLTextAreaElement>('textbox', { name: /Manifest/ }).value).toBe('kind: profile\nid: bad');
    expect(screen.getAllByTestId('manifest-row')).toHaveLength(1);
  });

  it('shows a refusal without fields as one message, and refuses an empty text without sending', async () => {
    const { api, sent } = fakeApi([new ApiError(409, 'manifest_exists', "'nginx' is a built-in manifest's id.")]);
    render(<ManifestsPage api={api} onNavigate={() => {}} />);
    await screen.findByTestId('manifest-row');
    typeManifest('   ');
    expect((await screen.findByTestId('manifest-error')).textContent).toMatch(/Paste a manifest/);
    expect(sent).toEqual([]);
    typeManifest('id: nginx');
    await waitFor(() => expect(screen.getByTestId('manifest-error').textContent).toMatch(/built-in manifest's id/));
    expect(screen.queryByTestId('manifest-problems')).toBeNull();
  });

  it('adds an accepted manifest to your list and clears the form', async () => {
    const added: OwnManifest = { ...MINE, id: 'alpine', title: 'Alpine', version: 1 };
    render(<ManifestsPage api={fakeApi([added]).api} onNavigate={() => {}} />);
    await screen.findByTestId('manifest-row');
    typeManifest('kind: profile\nid: alpine');
    expect((await screen.findByTestId('manifest-added')).textContent).toMatch(/Added profile alpine .* Deploy page offers it/);
    expect(screen.getAllByTestId('manifest-row').map((r) => r.dataset.id)).toEqual(['alpine', 'lab-debian']);
    expect(screen.getByRole<HTMLTextAreaElement>('textbox', { name: /Manifest/ }).value).toBe('');
  });

  it('deletes one of yours only once confirmed', async () => {
    const { api } = fakeApi([]);
    render(<ManifestsPage api={api} onNavigate={() => {}} />);
    const row = await screen.findByTestId('manifest-row');
    fireEvent.click(within(row).getByRole('button', { name: 'Delete manifest lab-debian' }));
    expect(api.deleteManifest).not.toHaveBeenCalled();
    fireEvent.click(within(row).getByRole('button', { name: 'Yes, delete lab-debian' }));
    await waitFor(() => expect(screen.queryByTestId('manifest-row')).toBeNull());
    expect(api.deleteManifest).toHaveBeenCalledWith('lab-debian');
    expect(screen.getByText('You have added no manifests yet.')).toBeTruthy();
  });

  it('reads a chosen file into the text, and refuses one too large before reading it', async () => {
    render(<ManifestsPage api={fakeApi([]).api} onNavigate={() => {}} />);
    await screen.findByTestId('manifest-row');
    const input = document.querySelector<HTMLInputElement>('input[name=manifest_file]')!;
    const file = new File(['kind: installer\nid: redis\n'], 'redis.yaml', { type: 'text/yaml' });
    fireEvent.change(input, { target: { files: [file] } });
    const text = screen.getByRole<HTMLTextAreaElement>('textbox', { name: /Manifest/ });
    await waitFor(() => expect(text.value).toBe('kind: installer\nid: redis\n'));
    const big = new File(['x'.repeat(64 * 1024 + 1)], 'big.yaml');
    fireEvent.change(input, { target: { files: [big] } });
    expect((await screen.findByTestId('manifest-error')).textContent).toMatch(/big.yaml is 65537 bytes/);
    expect(text.value).toBe('kind: installer\nid: redis\n');
  });
});
