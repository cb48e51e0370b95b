import { fireEvent, render, screen, within } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';
import { aVm } from '../test/fixtures';
import type { VM } from '../types';
import { VmTable } from './VmTable';

function renderTable(vms: VM[], extra: { errors?: Record<string, string> } = {}) {
  const onAction = vi.fn();
  const view = render(
    <VmTable agentId="agt-1" hostName="hv1" vms={vms} actionErrors={extra.errors ?? {}} sending={{}} onAction={onAction} />,
  );
  return { ...view, onAction };
}

function enabledButtons(row: HTMLElement): string[] {
  return within(row)
    .getAllByRole('button')
    .filter((b) => !(b as HTMLButtonElement).disabled)
    .map((b) => b.dataset.action ?? '');
}

describe('VmTable', () => {
  it('shows a VM name with HTML characters as text, not markup', () => {
    const name = '<img src=x onerror=alert(1)>';
    const { container } = renderTable([aVm({ name })]);

    const row = screen.getByTestId('vm-row');
    expect(row.dataset.vmName).toBe(name);
    expect(within(row).getByRole('rowheader').textContent).toBe(name);
    expect(container.querySelector('img')).toBeNull();
  });

  it('gives each row its name, UUID, exact state, vCPUs and memory', () => {
    renderTable([aVm({ state: 'running', vcpus: 4, memory_kib: 1048576 })]);

    const row = screen.getByTestId('vm-row');
    expect(row.dataset.vmUuid).toBe(aVm().uuid);
    expect(within(row).getByTestId('vm-state').textContent).toBe('running');
    expect(row.textContent).toContain('4');
    expect(row.textContent).toContain('1 GiB');
  });

  it('enables only the actions that apply to each VM state', () => {
    renderTable([
      aVm({ uuid: 'a', name: 'off', state: 'shutoff' }),
      aVm({ uuid: 'b', name: 'on', state: 'running' }),
      aVm({ uuid: 'c', name: 'held', state: 'paused' }),
    ]);

    const [off, on, held] = screen.getAllByTestId('vm-row');
    expect(enabledButtons(off)).toEqual(['start']);
    expect(enabledButtons(on)).toEqual(['shutdown', 'force-stop', 'reboot', 'suspend']);
    expect(enabledButtons(held)).toEqual(['force-stop', 'resume']);
  });

  it('names each button for the VM it acts on and reports the press', () => {
    const { onAction } = renderTable([aVm({ state: 'running' })]);

    fireEvent.click(screen.getByRole('button', { name: 'Reboot web1' }));
    expect(onAction).toHaveBeenCalledWith('agt-1', aVm().uuid, 'reboot');
  });

  it('asks before a force stop and sends it only once confirmed', () => {
    const { onAction } = renderTable([aVm({ state: 'running' })]);

    fireEvent.click(screen.getByRole('button', { name: 'Force stop web1' }));
    expect(onAction).not.toHaveBeenCalled();
    expect(screen.getByRole('alertdialog').textContent).toContain('whatever it has not written to disk is lost');
    fireEvent.click(screen.getByRole('button', { name: 'Yes, force stop web1' }));
    expect(onAction).toHaveBeenCalledWith('agt-1', aVm().uuid, 'force-stop');
  });

  it('shows an action error on its VM row', () => {
    renderTable([aVm()], { errors: { [`agt-1/${aVm().uuid}`]: 'No VM <b>x</b> here.' } });

    expect(screen.getByTestId('vm-error').textContent).toBe('No VM <b>x</b> here.');
  });
});
