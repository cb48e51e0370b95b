import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { aJob, aVm } from '../test/fixtures';
import { fill } from '../test/renderApp';
import type { Job, VM, VmRequest } from '../types';
import { GIB } from '../vmSizing';
import { VmCloneResize } from './VmCloneResize';

const DETAIL = { disks: [{ target: 'vda', device: 'disk', capacity_bytes: 20 * GIB }, { target: 'sda', device: 'cdrom', capacity_bytes: 1 }] };

/** The store's VM operations as the forms use them: each submit answers the next job or refusal. */
function fakeOps(answers: Array<Job | ApiError>, data: unknown = null) {
  const sent: VmRequest[] = [];
  const ops = {
    runAction: vi.fn(),
    runAndWait: vi.fn(),
    readResult: vi.fn(async () => DETAIL),
    submit: async (_agentId: string, _vmUuid: string, request: VmRequest) => {
      sent.push(request);
      const answer = answers.shift()!;
      if (answer instanceof ApiError) throw answer;
      return answer;
    },
    resultData: vi.fn(async () => data),
  };
  return { ops, sent };
}

function open(vm: VM, ops: ReturnType<typeof fakeOps>['ops'], which: 'clone' | 'resize') {
  render(<VmCloneResize agentId="agt-1" vm={vm} ops={ops} taken={[vm.name, 'db1']} />);
  fireEvent.click(document.querySelector<HTMLButtonElement>(`button[data-action="${which}"]`)!);
}

const done = (over: Partial<Job>) => aJob({ status: 'succeeded', finished_ms: 2, ...over });

describe('clone', () => {
  it('is refused for a running VM, saying why', () => {
    const { ops, sent } = fakeOps([]);
    open(aVm({ state: 'running' }), ops, 'clone');
    expect(screen.getByTestId('clone-blocked').textContent).toMatch(/Shut web1 off to clone it: it is running/);
    expect(document.querySelector<HTMLButtonElement>('button[data-action="confirm-clone"]')!.disabled).toBe(true);
    expect(sent).toEqual([]);
  });

  it('checks the name before sending, then sends the linked choice and shows the outcome', async () => {
    const { ops, sent } = fakeOps([done({ op: 'vm.clone' })]);
    open(aVm(), ops, 'clone');
    const form = screen.getByTestId('clone-form');
    fill(form, { clone_name: 'db1' });
    fireEvent.submit(form);
    expect(screen.getByTestId('field-error').textContent).toBe("This host already has a VM named 'db1'.");
    fill(form, { clone_name: 'bad name' });
    fireEvent.submit(form);
    expect(screen.getByTestId('field-error').textContent).toMatch(/1 to 64 letters/);
    expect(sent).toEqual([]);

    fill(form, { clone_name: 'web1-copy' });
    fireEvent.click(form.querySelector('input[value=linked]')!);
    fireEvent.submit(form);
    const outcome = await screen.findByTestId('clone-outcome');
    expect(outcome.textContent).toMatch(/Made web1-copy, a linked clone of web1/);
    expect(outcome.dataset.ok).toBe('true');
    expect(screen.getByTestId('clone-link').getAttribute('href')).toBe('/vms/agt-1/web1-copy');
    expect(sent).toEqual([{ action: 'clone', name: 'web1-copy', linked: true, start: false }]);
  });

  it("shows the server's refusal and a failed job in the form", async () => {
    const taken = new ApiError(409, 'name_taken', "This host already has a VM named 'web9'.");
    const failed = aJob({ op: 'vm.clone', status: 'failed', summary: 'vm.clone: pool is full', finished_ms: 2 });
    const { ops } = fakeOps([taken, new ApiError(503, 'unavailable', 'Try later.'), failed]);
    open(aVm(), ops, 'clone');
    const form = screen.getByTestId('clone-form');
    fill(form, { clone_name: 'web9' });
    fireEvent.submit(form);
    await waitFor(() => expect(screen.getByTestId('field-error').textContent).toBe("This host already has a VM named 'web9'."));
    fireEvent.submit(form);
    await waitFor(() => expect(screen.getByTestId('clone-error').textContent).toBe('Try later.'));
    fireEvent.submit(form);
    const outcome = await screen.findByTestId('clone-outcome');
    expect(outcome.dataset.ok).toBe('false');
    expect(outcome.textContent).toMatch(/vm.clone failed: vm.clone: pool is full/);
  });
});

describe('resize', () => {
  it("refuses a smaller disk beside it and sends nothing", async () => {
    const { ops, sent } = fakeOps([]);
    open(aVm(), ops, 'resize');
    const form = await screen.findByTestId('resize-form');
    expect(form.querySelector('input[name=disk-sda]')).toBeNull(); // a CD-ROM does not grow
    fill(form, { 'disk-vda': '10' });
    fireEvent.submit(form);
    const error = form.querySelector('[data-field="disk-vda"] [data-testid=field-error]')!;
    expect(error.textContent).toBe('Disks only grow: vda is 20 GiB now, so 20 GiB or more.');
    expect(sent).toEqual([]);
  });

  it('sends what changed and says it takes effect at the next boot when the job result says so', async () => {
    const { ops, sent } = fakeOps([done({ op: 'vm.resize' })], { applies: 'next_boot', disks: [] });
    open(aVm({ state: 'running' }), ops, 'resize');
    const form = await screen.findByTestId('resize-form');
    fill(form, { vcpus: '4', 'disk-vda': '25' });
    fireEvent.submit(form);
    const outcome = await screen.findByTestId('resize-outcome');
    expect(outcome.dataset.applies).toBe('next_boot');
    expect(outcome.textContent).toMatch(/take effect at its next boot/);
    expect(sent).toEqual([{ action: 'resize', vcpus: 4, disks: [{ target: 'vda', size_gib: 25 }] }]);
  });

  it("shows the server's refusal in the form", async () => {
    const { ops } = fakeOps([new ApiError(400, 'invalid_request', "'vcpus' must be an integer from 1 to 256.")]);
    open(aVm(), ops, 'resize');
    const form = await screen.findByTestId('resize-form');
    fill(form, { memory_mib: '4096' });
    fireEvent.submit(form);
    await waitFor(() => expect(screen.getByTestId('resize-error').textContent).toMatch(/'vcpus' must be an integer/));
  });
});
