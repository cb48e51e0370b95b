// The plumbing the fake operator API is made of: requests, routes, answers.

import type { Account } from '../types';
import { jsonResponse } from './fixtures';

export interface FakeUser extends Account {
  password: string;
}

/** What a route handler gets: the parsed request and, if authenticated, who. */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  headers: Headers;
  init: RequestInit;
  params: string[];
  caller: { user: FakeUser; sessionId: string } | null;
}

export interface Route {
  method: string;
  pattern: RegExp;
  /** Open routes need no bearer token (login, refresh). */
  open?: boolean;
  handle: (request: FakeRequest) => Response | Promise<Response>;
}

export const ok = (body: unknown, status = 200) => jsonResponse(status, body);

export function fail(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

export function parseBody(init: RequestInit): Record<string, unknown> {
  if (typeof init.body !== 'string' || init.body === '') return {};
  return JSON.parse(init.body) as Record<string, unknown>;
}

/** A cursor-paged slice of `items`, like the real API's `limit` + opaque `cursor`. */
export function page<T>(items: T[], query: URLSearchParams, maxLimit: number): { items: T[]; next: string | null } {
  const limit = Math.min(Number(query.get('limit') ?? 50), maxLimit);
  const start = Number(query.get('cursor') ?? 0);
  const end = start + limit;
  return { items: items.slice(start, end), next: end < items.length ? String(end) : null };
}

export function account({ password: _password, ...user }: FakeUser): Account {
  return user;
}

export function weakPassword(password: unknown): Response | null {
  if (typeof password === 'string' && password.length >= 12) return null;
  return fail(400, 'weak_password', 'The password must be at least 12 characters long.');
}
