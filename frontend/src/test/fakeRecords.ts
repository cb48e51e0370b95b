// The fake API's API keys, enrolment tokens and audit trail.

import type { ApiKey, AuditRecord, EnrollmentToken, Scope } from '../types';
import type { FakeServerState } from './fakeServer';
import { fail, ok, page, type FakeRequest, type Route } from './fakeHttp';

const SCOPES: readonly string[] = ['read', 'operate', 'admin'];

export function anAuditRecord(n: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    record_id: `rec-${n}`,
    ts_ms: 1_700_000_000_000 + n * 1000,
    actor: 'ops@example.test',
    action: 'vm.start',
    target: `agt-1/vm-${n}`,
    outcome: 'success',
    source_ip: '192.0.2.10',
    user_agent: 'Vitest',
    detail: null,
    ...over,
  };
}

export function recordRoutes(state: FakeServerState, audit: (action: string, target: string) => void): Route[] {
  let counter = 0;
  const owned = <T extends { owner: string }>(items: T[], request: FakeRequest) =>
    items.filter((item) => item.owner === request.caller!.user.user_id);
  const strip = <T extends { owner: string }>({ owner: _owner, ...rest }: T) => rest;

  function createKey(request: FakeRequest): Response {
    const { name, scopes, expires_in_days: days } = request.body;
    if (typeof name !== 'string' || name.trim() === '') return fail(400, 'invalid_request', 'name: required.');
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => SCOPES.includes(String(s)))) {
      return fail(400, 'invalid_request', 'scopes: choose from read, operate, admin.');
    }
    counter += 1;
    const key: ApiKey & { owner: string } = {
      key_id: `key-${counter}`,
      name,
      prefix: `fv_k${counter}`,
      scopes: scopes as Scope[],
      created_ms: 1_700_000_000_000,
      expires_ms: typeof days === 'number' ? 1_700_000_000_000 + days * 86_400_000 : null,
      last_used_ms: null,
      revoked: false,
      owner: request.caller!.user.user_id,
    };
    state.apiKeys.unshift(key);
    audit('api_key.create', key.key_id);
    return ok({ ...strip(key), secret: `fv_k${counter}_s3cr3t-value` }, 201);
  }

  function createToken(request: FakeRequest): Response {
    const { uses = 1, ttl_seconds: ttl = 3600, note = '' } = request.body;
    if (typeof uses !== 'number' || uses < 1 || uses > 100) return fail(400, 'invalid_request', 'uses: 1..100.');
    counter += 1;
    const token: EnrollmentToken & { owner: string } = {
      token_id: `et-${counter}`,
      note: String(note),
      created_ms: 1_700_000_000_000,
      expires_ms: 1_700_000_000_000 + Number(ttl) * 1000,
      uses: 0, // as the server says: used so far
      uses_left: uses,
      revoked: false,
      owner: request.caller!.user.user_id,
    };
    state.enrollmentTokens.unshift(token);
    return ok({ ...strip(token), token: `fvet_${counter}AbC-dEf` }, 201);
  }

  function revoke<T extends { owner: string; revoked: boolean }>(items: T[], find: (item: T) => boolean) {
    return (request: FakeRequest): Response => {
      const item = owned(items, request).find(find);
      if (!item) return fail(404, 'not_found', 'No such thing.');
      item.revoked = true;
      return ok(strip(item));
    };
  }

  function addSshKey(request: FakeRequest, privateKey?: string): Response {
    const { name, public_key: given } = request.body;
    if (typeof name !== 'string' || name.trim() === '') return fail(400, 'invalid_request', "'name' is required.");
    const publicKey = privateKey === undefined ? String(given) : `ssh-ed25519 AAAAC3Nza${++counter} ${name}`;
    if (!publicKey.startsWith('ssh-')) return fail(400, 'invalid_ssh_key', 'Not an OpenSSH public key.');
    const key = {
      key_id: `sshk_${String(++counter).padStart(32, '0')}`,
      name,
      public_key: publicKey,
      fingerprint: `SHA256:fake${counter}`,
      type: 'ssh-ed25519',
      bits: 256,
      created_ms: 1_700_000_000_000,
      owner: request.caller!.user.user_id,
    };
    state.sshKeys.push(key);
    return ok(privateKey === undefined ? strip(key) : { ...strip(key), private_key: privateKey }, 201);
  }

  function removeSshKey(request: FakeRequest): Response {
    const key = owned(state.sshKeys, request).find((k) => k.key_id === request.params[0]);
    if (!key) return fail(404, 'not_found', 'No such SSH key.');
    state.sshKeys = state.sshKeys.filter((k) => k !== key);
    return ok(strip(key));
  }

  function listAudit({ query }: FakeRequest): Response {
    const action = query.get('action');
    const since = Number(query.get('since_ms') ?? 0);
    const until = Number(query.get('until_ms') ?? Number.MAX_SAFE_INTEGER);
    const trail = query.get('owner') === 'anonymous' ? state.anonymousAudit : state.audit;
    const part = action?.toLowerCase() ?? '';
    const matching = [...trail]
      .sort((a, b) => b.ts_ms - a.ts_ms)
      .filter((r) => r.action.includes(part) && r.ts_ms >= since && r.ts_ms <= until);
    const { items, next } = page(matching, query, state.pageSize);
    return ok({ records: items, next });
  }

  return [
    { method: 'GET', pattern: /^\/api\/api-keys$/, handle: (r) => ok({ api_keys: owned(state.apiKeys, r).map(strip) }) },
    { method: 'POST', pattern: /^\/api\/api-keys$/, handle: createKey },
    { method: 'GET', pattern: /^\/api\/ssh-keys$/, handle: (r) => ok({ ssh_keys: owned(state.sshKeys, r).map(strip) }) },
    { method: 'POST', pattern: /^\/api\/ssh-keys$/, handle: (r) => addSshKey(r) },
    {
      method: 'POST',
      pattern: /^\/api\/ssh-keys\/generate$/,
      handle: (r) => addSshKey(r, '-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n'),
    },
    { method: 'DELETE', pattern: /^\/api\/ssh-keys\/([^/]+)$/, handle: removeSshKey },
    {
      method: 'DELETE',
      pattern: /^\/api\/api-keys\/([^/]+)$/,
      handle: (r) => revoke(state.apiKeys, (k) => k.key_id === r.params[0])(r),
    },
    {
      method: 'GET',
      pattern: /^\/api\/enrollment-tokens$/,
      handle: (r) => ok({ enrollment_tokens: owned(state.enrollmentTokens, r).map(strip) }),
    },
    { method: 'POST', pattern: /^\/api\/enrollment-tokens$/, handle: createToken },
    {
      method: 'DELETE',
      pattern: /^\/api\/enrollment-tokens\/([^/]+)$/,
      handle: (r) => revoke(state.enrollmentTokens, (t) => t.token_id === r.params[0])(r),
    },
    { method: 'GET', pattern: /^\/api\/audit$/, handle: listAudit },
  ];
}
