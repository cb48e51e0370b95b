import { describe as group, expect, it } from 'vitest';
import { curlFor, describe, matches, operationsOf, type OpenApiDocument } from './apiReference';

const DOC: OpenApiDocument = {
  paths: {
    '/api/users': {
      post: {
        summary: 'Create an account (admin)',
        security: [{ bearer: [] }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: {
                  email: { type: 'string', maxLength: 254 },
                  password: { type: 'string', minLength: 12, maxLength: 1024 },
                  role: { type: 'string', enum: ['admin', 'operator'] },
                },
              },
            },
          },
        },
        responses: { '201': {}, '400': {}, '401': {}, '403': {} },
      },
      get: { summary: 'Accounts (admin)', security: [{ bearer: [] }], responses: { '200': {}, '401': {} } },
    },
    '/api/agents/{agent_id}': {
      delete: {
        summary: 'Deregister a host',
        security: [{ bearer: [] }],
        parameters: [{ name: 'agent_id', in: 'path', schema: { type: 'string', pattern: '^ag_[0-9a-f]{32}$' } }],
        responses: { '200': {}, '404': {} },
      },
    },
    '/api/health': { get: { summary: 'Readiness', security: [], responses: { '200': {} } } },
  },
};

group('operationsOf', () => {
  it('lists every operation by group, path and method, with its fields in words', () => {
    const ops = operationsOf(DOC);
    expect(ops.map((op) => `${op.group} ${op.method} ${op.path}`)).toEqual([
      'agents DELETE /api/agents/{agent_id}',
      'health GET /api/health',
      'users GET /api/users',
      'users POST /api/users',
    ]);
    const create = ops[3];
    expect(create.needsLogin).toBe(true);
    expect(create.body).toEqual([
      { name: 'email', form: 'string, at most 254 characters', required: true },
      { name: 'password', form: 'string, 12–1024 characters', required: true },
      { name: 'role', form: 'string, one of admin, operator', required: false },
    ]);
    expect([create.success, create.errors]).toEqual([['201'], ['400', '401', '403']]);
    expect(ops[0].pathParameters).toEqual([
      { name: 'agent_id', form: 'string, matching ^ag_[0-9a-f]{32}$', required: true },
    ]);
    expect(ops[1].needsLogin).toBe(false);
  });
});

group('matches', () => {
  it('needs every typed word somewhere in the method, path or summary', () => {
    const [deregister, health] = operationsOf(DOC);
    expect(matches(deregister, 'delete agents')).toBe(true);
    expect(matches(deregister, 'DEREGISTER host')).toBe(true);
    expect(matches(deregister, 'delete users')).toBe(false);
    expect(matches(health, '')).toBe(true);
  });
});

group('curlFor', () => {
  it('sends the token only where a login is needed, and the required body fields', () => {
    const ops = operationsOf(DOC);
    expect(curlFor(ops[1], 'https://fv.example')).toBe('curl -sS "https://fv.example/api/health"');
    expect(curlFor(ops[3], 'https://fv.example')).toBe(
      'curl -sS -X POST -H "Authorization: Bearer $FLEETVISOR_TOKEN" -H \'Content-Type: application/json\' ' +
        '-d \'{"email":"<email>","password":"<password>"}\' "https://fv.example/api/users"',
    );
  });

  it('describes arrays by their items', () => {
    expect(describe({ type: 'array', maxItems: 3, items: { type: 'string' } })).toBe(
      'array, at most 3 items, of string',
    );
  });
});
