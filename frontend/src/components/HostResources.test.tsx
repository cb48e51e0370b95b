import { fireEvent, screen, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { fakeServer } from '../test/fakeServer';
import { loggedInApp } from '../test/renderApp';

describe('Host card: its own use and resources', () => {
  it("shows the host's CPU and memory in use from its heartbeat, not as hypervisor facts", async () => {
    const server = fakeServer();
    server.state.agents[0].capabilities = { cpu_used_percent: 12.5, memory_total_kib: 16 * 2 ** 20,
      memory_free_kib: 4 * 2 ** 20, hypervisor: 'QEMU' };
    await loggedInApp({ server });
    expect((await screen.findByTestId('host-cpu-used')).textContent).toBe('12.5 %');
    expect(screen.getByTestId('host-memory-used').textContent).toBe('12 GiB of 16 GiB');
    expect(screen.getByTestId('host-capabilities').textContent).not.toContain('cpu_used_percent');
  });

  it('reads the storage pools and networks on request (a host.capabilities job)', async () => {
    const server = fakeServer();
    await loggedInApp({ server });
    fireEvent.click(await screen.findByRole('button', { name: 'Pools and networks' }));
    const resources = await screen.findByTestId('host-resources');
    expect(within(resources).getByTestId('host-pool').textContent).toBe('default · running · 4 GiB free of 10 GiB');
    expect(within(resources).getByTestId('host-network').textContent).toBe('default · active · virbr0');
    expect(server.state.jobs[0].op).toBe('host.capabilities');
  });
});
