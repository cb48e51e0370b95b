import { describe, expect, it } from 'vitest';
import {
  checkValues,
  collectValues,
  errorsAt,
  errorsUnder,
  fieldOrder,
  initialValues,
  isRequired,
  visibleFields,
} from './schemaForm';
import type { ObjectSchema } from './types';

// Shaped as the server's inputs.schema_for answers it (functions/chalicelib/deployments/inputs.py).
const SCHEMA: ObjectSchema = {
  properties: {
    hostname: {
      type: 'string', 'x-kind': 'hostname', title: 'Host name', maxLength: 63,
      pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$',
    },
    source: {
      type: 'string', 'x-kind': 'select', enum: ['url', 'pool'], default: 'url',
      'x-options': [{ value: 'url', label: 'A URL' }, { value: 'pool', label: 'A volume' }],
    },
    url: { type: 'string', 'x-kind': 'string', maxLength: 20, 'x-visible-if': { input: 'source', equals: 'url' } },
    volume: { type: 'string', 'x-kind': 'string', 'x-visible-if': { input: 'source', in: ['pool'] } },
    port: { type: 'integer', 'x-kind': 'port', minimum: 1, maximum: 65535, default: 80 },
    tls: { type: 'boolean', 'x-kind': 'boolean' },
    password: { type: 'string', 'x-kind': 'password', writeOnly: true, format: 'password', minLength: 8 },
    keys: { type: 'array', 'x-kind': 'ssh-key', 'x-multiple': true, maxItems: 2 },
    swap: { type: 'string', 'x-kind': 'size', pattern: '^[1-9][0-9]{0,7}(MiB|GiB)$', 'x-min-mib': 512, 'x-max-mib': 8192 },
  },
  required: ['hostname', 'keys'],
  allOf: [{ then: { required: ['url'] } }],
  'x-order': ['hostname', 'source', 'url', 'volume', 'port', 'tls', 'password', 'keys', 'swap'],
};

function filled() {
  return {
    ...initialValues(SCHEMA),
    hostname: 'web1',
    url: 'https://x.test/a',
    keys: { stored: ['sshk_' + 'a'.repeat(32)], pasted: '\n ssh-ed25519 AAAA me@x \n' },
  };
}

describe('schemaForm', () => {
  it('starts from the defaults, in x-order', () => {
    const values = initialValues(SCHEMA);
    expect(fieldOrder(SCHEMA)).toEqual(SCHEMA['x-order']);
    expect(values.source).toBe('url');
    expect(values.port).toBe('80');
    expect(values.tls).toBe(false);
    expect(values.keys).toEqual({ stored: [], pasted: '' });
  });

  it('shows a field only when its x-visible-if holds (equals and in)', () => {
    const values = initialValues(SCHEMA);
    expect(visibleFields(SCHEMA, values)).toContain('url');
    expect(visibleFields(SCHEMA, values)).not.toContain('volume');
    const pool = { ...values, source: 'pool' };
    expect(visibleFields(SCHEMA, pool)).toContain('volume');
    expect(visibleFields(SCHEMA, pool)).not.toContain('url');
  });

  it('sends neither hidden fields nor empty optional ones, and numbers as numbers', () => {
    const values = { ...filled(), source: 'pool', volume: 'win.iso' };
    expect(collectValues(SCHEMA, values)).toEqual({
      hostname: 'web1',
      source: 'pool',
      volume: 'win.iso',
      port: 80,
      tls: false,
      keys: ['sshk_' + 'a'.repeat(32), 'ssh-ed25519 AAAA me@x'],
    });
  });

  it('knows a conditionally required field from the if/then', () => {
    expect(isRequired(SCHEMA, 'url')).toBe(true);
    expect(isRequired(SCHEMA, 'volume')).toBe(false);
    expect(checkValues(SCHEMA, { ...filled(), url: '' })).toEqual({ url: 'is required.' });
    expect(checkValues(SCHEMA, { ...filled(), url: '', source: 'pool' })).toEqual({});
  });

  it('checks required, pattern, lengths, bounds and sizes from the schema', () => {
    expect(checkValues(SCHEMA, filled())).toEqual({});
    const bad = {
      ...filled(),
      hostname: 'bad_host!',
      url: 'x'.repeat(21),
      port: '70000',
      password: 'short',
      keys: { stored: [], pasted: 'a\nb\nc' },
      swap: '16GiB',
    };
    expect(checkValues(SCHEMA, bad)).toEqual({
      hostname: "must be a host name: letters, digits and '-', not starting or ending with '-'.",
      url: 'must be at most 20 characters.',
      port: 'must be from 1 to 65535.',
      password: 'must be at least 8 characters.',
      keys: 'may list at most 2 keys.',
      swap: 'must be from 512 MiB to 8192 MiB.',
    });
    expect(checkValues(SCHEMA, { ...filled(), hostname: '', keys: { stored: [], pasted: ' ' } })).toEqual({
      hostname: 'is required.',
      keys: 'is required.',
    });
    expect(checkValues(SCHEMA, { ...filled(), port: '1.5' }).port).toBe('must be a whole number from 1 to 65535.');
  });

  it("maps the server's refusals to the fields under a prefix, and back", () => {
    const fields = {
      'inputs.hostname': 'is required.',
      'installers.nginx.port': 'must be from 1 to 65535.',
      'installers.nginx': 'cannot run here.',
      'sizing.vcpus': 'must be a whole number from 1 to 64.',
    };
    expect(errorsUnder(fields, 'inputs')).toEqual({ hostname: 'is required.' });
    expect(errorsUnder(fields, 'installers.nginx')).toEqual({ '': 'cannot run here.', port: 'must be from 1 to 65535.' });
    expect(errorsAt({ vcpus: 'x', '': 'y' }, 'sizing')).toEqual({ 'sizing.vcpus': 'x', sizing: 'y' });
  });
});
