// Client-side routing on real paths (history.pushState). The server answers
// every path that is not /api/ or /agent/ with index.html, so a reload or a
// bookmarked /account works too.

import { createListeners, type Listeners } from './store';

export type Page = 'hosts' | 'vms' | 'deploy' | 'manifests' | 'jobs' | 'tokens' | 'account' | 'audit' | 'users' | 'api';

export const PAGE_PATHS: Record<Page, string> = {
  hosts: '/',
  vms: '/vms',
  deploy: '/deploy',
  manifests: '/manifests',
  jobs: '/jobs',
  tokens: '/enrollment-tokens',
  account: '/account',
  audit: '/audit',
  users: '/users',
  api: '/api-reference',
};

const PAGES_BY_PATH = new Map<string, Page>([
  ...Object.entries(PAGE_PATHS).map(([page, path]) => [path, page as Page] as const),
  ['/hosts', 'hosts'],
]);

/** The page a path shows, or null for a path the app does not know. */
export function pageOf(pathname: string): Page | null {
  const trimmed = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return PAGES_BY_PATH.get(trimmed) ?? null;
}

/** A console view: live (/consoles/{id}) or a read-only replay (/consoles/{id}/replay). */
export interface ConsoleRoute {
  consoleId: string;
  replay: boolean;
}

const CONSOLE_PATH = /^\/consoles\/([^/]+)(\/replay)?\/*$/;

export function consoleRouteOf(pathname: string): ConsoleRoute | null {
  const match = CONSOLE_PATH.exec(pathname);
  if (!match) return null;
  let consoleId: string;
  try {
    consoleId = decodeURIComponent(match[1]);
  } catch {
    return null;
  }
  return { consoleId, replay: match[2] !== undefined };
}

export function consolePath(consoleId: string, replay = false): string {
  return `/consoles/${encodeURIComponent(consoleId)}${replay ? '/replay' : ''}`;
}

/** A VM's page: /vms/{agent id}/{VM UUID or name}. */
export interface VmRoute {
  agentId: string;
  vm: string;
}

const VM_PATH = /^\/vms\/([^/]+)\/([^/]+)\/*$/;

export function vmRouteOf(pathname: string): VmRoute | null {
  const match = VM_PATH.exec(pathname);
  if (!match) return null;
  try {
    return { agentId: decodeURIComponent(match[1]), vm: decodeURIComponent(match[2]) };
  } catch {
    return null;
  }
}

export function vmPath(agentId: string, vm: string): string {
  return `/vms/${encodeURIComponent(agentId)}/${encodeURIComponent(vm)}`;
}

export interface Router {
  path(): string;
  navigate(path: string): void;
  subscribe(listener: () => void): () => void;
}

/** A router over the window's history; it listens only while it has listeners. */
export function createRouter(win: Window = window): Router {
  const listeners: Listeners = createListeners({
    first: () => win.addEventListener('popstate', listeners.notify),
    last: () => win.removeEventListener('popstate', listeners.notify),
  });

  return {
    path: () => win.location.pathname,
    navigate(path) {
      if (path === win.location.pathname) return;
      win.history.pushState(null, '', path);
      listeners.notify();
    },
    subscribe: listeners.subscribe,
  };
}

/** The app's one router. */
export const appRouter = createRouter();
