// The links between the app's pages; Users only for admins.

import { PAGE_PATHS, type Page } from '../state/router';
import { isPlainClick } from './AppLink';

interface Props {
  current: Page | null;
  admin: boolean;
  onNavigate: (path: string) => void;
}

const LINKS: ReadonlyArray<{ page: Page; label: string; adminOnly?: boolean }> = [
  { page: 'hosts', label: 'Hosts' },
  { page: 'vms', label: 'VMs' },
  { page: 'deploy', label: 'Deploy' },
  { page: 'manifests', label: 'Manifests' },
  { page: 'jobs', label: 'Jobs' },
  { page: 'tokens', label: 'Enrolment tokens' },
  { page: 'account', label: 'Account' },
  { page: 'audit', label: 'Audit' },
  { page: 'users', label: 'Users', adminOnly: true },
  { page: 'api', label: 'API' },
];

export function NavBar({ current, admin, onNavigate }: Props) {
  return (
    <nav class="nav" aria-label="Main">
      {LINKS.filter((link) => admin || !link.adminOnly).map(({ page, label }) => (
        <a
          key={page}
          href={PAGE_PATHS[page]}
          data-testid={`nav-${page}`}
          aria-current={current === page ? 'page' : undefined}
          onClick={(event) => {
            if (!isPlainClick(event)) return;
            event.preventDefault();
            onNavigate(PAGE_PATHS[page]);
          }}
        >
          {label}
        </a>
      ))}
    </nav>
  );
}
