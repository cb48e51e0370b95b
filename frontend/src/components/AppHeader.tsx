// The bar across the top: the pages, who is logged in, and the way out.

import { isAdmin } from '../state/session';
import type { Page } from '../state/router';
import type { User } from '../types';
import { NavBar } from './NavBar';

interface Props {
  user: User;
  page: Page | null;
  onNavigate: (path: string) => void;
  onLogout: () => void;
  loggingOut?: boolean;
}

export function AppHeader({ user, page, onNavigate, onLogout, loggingOut = false }: Props) {
  return (
    <header class="topbar">
      <span class="brand">Fleetvisor</span>
      <NavBar current={page} admin={isAdmin(user)} onNavigate={onNavigate} />
      <span class="user" title={user.email}>
        <span class="visually-hidden">Logged in as </span>
        <span data-testid="user-email">{user.email}</span>
      </span>
      <button type="button" data-testid="logout" onClick={onLogout} disabled={loggingOut}>
        {loggingOut ? 'Logging out…' : 'Log out'}
      </button>
    </header>
  );
}
