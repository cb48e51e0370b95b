import { describe, expect, it } from 'vitest';
import { enrollCommand, installCommand, shellQuote } from './enrollment';

describe('enrolment commands', () => {
  it('gives the one-line install and the manual enrol command', () => {
    expect(installCommand('https://fleet.example.test', 'fvet_abc-DEF_1')).toBe(
      'curl -fsSL https://fleet.example.test/agent/install.sh | sudo bash -s -- --token fvet_abc-DEF_1',
    );
    expect(enrollCommand('http://127.0.0.1:8000', 'fvet_abc')).toBe(
      'fleetvisor-agent enroll --url http://127.0.0.1:8000 --token fvet_abc',
    );
  });

  it('quotes anything a shell would read as more than one plain word', () => {
    expect(shellQuote('fvet_abc')).toBe('fvet_abc');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote('$(reboot)')).toBe("'$(reboot)'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });
});
