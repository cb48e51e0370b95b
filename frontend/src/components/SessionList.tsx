// Where you are logged in: each session with Revoke, and "Log out everywhere".

import type { Api } from '../api';
import { formatTime } from '../format';
import { useAction } from '../state/useAction';
import type { Resource } from '../state/useResource';
import type { SessionInfo } from '../types';
import { FormError } from './FormError';
import { TableHead } from './TableHead';

const HEADINGS = ['Created', 'Last used', 'Browser', 'Source IP'];

interface Props {
  api: Pick<Api, 'revokeSession' | 'logoutAll'>;
  sessions: Resource<SessionInfo[]>;
  onSessionEnded: () => void;
}

interface RowProps {
  info: SessionInfo;
  busy: boolean;
  onRevoke: (info: SessionInfo) => void;
}

function SessionRow({ info, busy, onRevoke }: RowProps) {
  return (
    <tr data-testid="session-row" data-session-id={info.session_id} data-current={String(info.current)}>
      <td>
        {formatTime(info.created_ms)}
        {info.current && (
          <span class="badge badge-ok marker" data-testid="current-session">
            this session
          </span>
        )}
      </td>
      <td>{formatTime(info.last_used_ms)}</td>
      <td class="wrap">{info.user_agent || '—'}</td>
      <td>
        <code>{info.source_ip || '—'}</code>
      </td>
      <td>
        <button type="button" data-action="revoke" disabled={busy} onClick={() => onRevoke(info)}>
          Revoke
        </button>
      </td>
    </tr>
  );
}

export function SessionList({ api, sessions, onSessionEnded }: Props) {
  const action = useAction();
  const list = sessions.data ?? [];

  async function revoke(info: SessionInfo) {
    const ok = await action.run(() => api.revokeSession(info.session_id).then(() => undefined));
    if (ok && info.current) return onSessionEnded();
    if (ok) sessions.update((all) => all.filter((s) => s.session_id !== info.session_id));
  }

  async function logoutAll() {
    if (await action.run(() => api.logoutAll().then(() => undefined))) onSessionEnded();
  }

  return (
    <section class="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <FormError message={action.error || sessions.error} testId="action-error" />
      {sessions.loading && sessions.data === null && <p class="muted">Loading sessions…</p>}
      {list.length > 0 && (
        <table>
          <TableHead columns={HEADINGS} actions />
          <tbody>
            {list.map((info) => (
              <SessionRow key={info.session_id} info={info} busy={action.busy} onRevoke={(s) => void revoke(s)} />
            ))}
          </tbody>
        </table>
      )}
      <p class="toolbar">
        <button type="button" data-testid="logout-all" disabled={action.busy} onClick={() => void logoutAll()}>
          Log out everywhere
        </button>
        <span class="muted">Ends every session and access token of yours, this one included.</span>
      </p>
    </section>
  );
}
