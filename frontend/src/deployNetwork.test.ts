import { describe, expect, it } from 'vitest';
import {
  checkNetwork,
  initialNetwork,
  networkRequest,
  parseForward,
  profileNetwork,
  sentIndexes,
  sshHandoff,
  type NetworkDraft,
} from './deployNetwork';

function user(...extras: [string, string, string][]): NetworkDraft {
  const draft = initialNetwork();
  return {
    ...draft,
    mode: 'user',
    forwards: [draft.forwards[0], ...extras.map(([host_port, guest_port, address]) => ({ host_port, guest_port, address }))],
  };
}

describe('the deployment network', () => {
  it("sends nothing for the profile's network, a name for another, the forwards for user mode", () => {
    expect(networkRequest(initialNetwork())).toBeUndefined();
    expect(profileNetwork({ network: 'lab' })).toBe('lab');
    expect(profileNetwork({})).toBe('default');
    expect(networkRequest({ ...initialNetwork(), mode: 'named', name: ' lab ' })).toBe('lab');
    expect(networkRequest(user(['8080', '80', ' 192.0.2.5 ']))).toEqual({
      mode: 'user',
      forwards: [
        { host_port: 2222, guest_port: 22 },
        { host_port: 8080, guest_port: 80, address: '192.0.2.5' },
      ],
    });
  });

  it('leaves out an empty SSH row, and keys errors by the place each forward is sent at', () => {
    const draft = user(['8080', '80', '']);
    draft.forwards[0] = { ...draft.forwards[0], host_port: ' ' };
    expect(sentIndexes(draft)).toEqual([null, 0]);
    expect(networkRequest(draft)).toEqual({ mode: 'user', forwards: [{ host_port: 8080, guest_port: 80 }] });
    expect(checkNetwork(user())).toEqual({});
  });

  it('refuses what the API would, keyed as the API keys it', () => {
    expect(checkNetwork({ ...initialNetwork(), mode: 'named', name: '' })).toEqual({
      network: 'is required: the name of a libvirt network of the host.',
    });
    expect(checkNetwork(user(['70000', '80', ''], ['2222', 'x', '127.0.0.256'], ['8080', '', '']))).toEqual({
      'network.forwards[1].host_port': 'must be a port number from 1 to 65535.',
      'network.forwards[2].host_port': 'is forwarded twice.',
      'network.forwards[2].guest_port': 'must be a port number from 1 to 65535.',
      'network.forwards[2].address': 'must be an IPv4 address of the host, such as 127.0.0.1.',
      'network.forwards[3].guest_port': 'must be a port number from 1 to 65535.',
    });
    const many = user(...Array.from({ length: 8 }, (_, i): [string, string, string] => [String(3000 + i), '80', '']));
    expect(checkNetwork(many)).toEqual({ network: 'takes at most 8 forwards.' });
  });
});

describe('the hand-off SSH command', () => {
  it('reads forwards as the deploy job writes them', () => {
    expect(parseForward('127.0.0.1:2222->22/tcp')).toEqual({ address: '127.0.0.1', host_port: 2222, guest_port: 22 });
    expect(parseForward('nonsense')).toBeNull();
  });

  it('logs in through a forward to port 22, jumping through the host for 127.0.0.1', () => {
    const forwards = ['127.0.0.1:8080->80/tcp', '127.0.0.1:2222->22/tcp'];
    expect(sshHandoff('ada', { forwards }, 'rack-1')).toEqual({
      command: 'ssh -p 2222 ada@127.0.0.1',
      jump: 'ssh -J rack-1 -p 2222 ada@127.0.0.1',
    });
    expect(sshHandoff('ada', { forwards: ['192.0.2.5:2200->22/tcp'] }, 'h')).toEqual({
      command: 'ssh -p 2200 ada@192.0.2.5',
      jump: null,
    });
    expect(sshHandoff('ada', { forwards: ['0.0.0.0:2200->22/tcp'] }, 'rack-1')?.command).toBe('ssh -p 2200 ada@rack-1');
  });

  it("falls back to the VM's first address, and to nothing", () => {
    expect(sshHandoff('ada', { addresses: ['10.0.0.7'], forwards: ['127.0.0.1:8080->80/tcp'] }, 'h')).toEqual({
      command: 'ssh ada@10.0.0.7',
      jump: null,
    });
    expect(sshHandoff('ada', { forwards: ['127.0.0.1:8080->80/tcp'] }, 'h')).toBeNull();
    expect(sshHandoff(null, { addresses: ['10.0.0.7'] }, 'h')).toBeNull();
    expect(sshHandoff('ada', null, 'h')).toBeNull();
  });
});
