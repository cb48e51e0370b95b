// A host's or a VM's past console sessions, newest first, each with a link
// to replay its transcript (and to the session itself while it is open).

import type { ConsoleFilter } from '../api';
import { consoleStatusWords, formatBytes, formatTime } from '../format';
import type { ConsoleOps } from '../state/consoleJoin';
import { consolePath } from '../state/router';
import { usePagedList } from '../state/useResource';
import type { ConsoleSession } from '../types';
import { AppLink } from './AppLink';
import { FormError } from './FormError';
import { LoadMore } from './LoadMore';
import { TableHead } from './TableHead';

const HEADINGS = ['Opened', 'VM', 'State', { label: 'Output', numeric: true }, 'Transcript'];

interface Props {
  consoles: ConsoleOps;
  filter: ConsoleFilter;
}

const idOf = (session: ConsoleSession) => session.console_id;

function HistoryRow({ session, onNavigate }: { session: ConsoleSession; onNavigate: (path: string) => void }) {
  const id = session.console_id;
  return (
    <tr data-testid="console-history-row" data-console-id={id} data-status={session.status}>
      <td>{formatTime(session.created_ms)}</td>
      <td>{session.vm_name}</td>
      <td>{consoleStatusWords(session.status, session.closed_reason)}</td>
      <td class="num">{formatBytes(session.bytes)}</td>
      <td class="actions">
        <AppLink href={consolePath(id, true)} onNavigate={onNavigate} testId="console-replay">
          Replay
        </AppLink>
        {session.status !== 'closed' && (
          <AppLink href={consolePath(id)} onNavigate={onNavigate} testId="console-join">
            Join
          </AppLink>
        )}
      </td>
    </tr>
  );
}

export function ConsoleHistory({ consoles, filter }: Props) {
  const key = `${filter.agentId}/${filter.vmUuid ?? ''}`;
  const sessions = usePagedList((cursor) => consoles.list(filter, cursor), idOf, key);
  return (
    <div class="console-history" data-testid="console-history">
      <FormError message={sessions.error} testId="action-error" />
      {sessions.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Console sessions</caption>
          <TableHead columns={HEADINGS} />
          <tbody>
            {sessions.items.map((session) => (
              <HistoryRow key={session.console_id} session={session} onNavigate={consoles.navigate} />
            ))}
          </tbody>
        </table>
      )}
      {sessions.loading && <p class="muted">Loading console sessions…</p>}
      {!sessions.loading && sessions.items.length === 0 && !sessions.error && (
        <p class="muted" data-testid="console-history-empty">
          No console sessions yet.
        </p>
      )}
      <LoadMore list={sessions} testId="console-history-more" />
    </div>
  );
}
