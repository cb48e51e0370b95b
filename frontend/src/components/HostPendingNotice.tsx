// What waits for the owner's decision on a host: the host itself (a new host
// under "require approval"), or another agent key that enrolled under its name.

import { formatAgo, formatTime } from '../format';
import { isPendingHost } from '../state/fleet';
import type { Agent } from '../types';

interface Props {
  agent: Agent;
  now: number;
}

function Since({ ms, now }: { ms: number | null; now: number }) {
  if (ms === null) return null;
  return (
    <>
      {' '}
      <time dateTime={new Date(ms).toISOString()}>{formatAgo(ms, now)}</time>{' '}
      ({formatTime(ms)})
    </>
  );
}

export function HostPendingNotice({ agent, now }: Props) {
  return (
    <>
      {isPendingHost(agent) && (
        <p class="notice" data-testid="host-approval-notice">
          <strong>This host waits for your approval.</strong>
          {agent.pending_since_ms !== null && !agent.pending_reregistration && (
            <>
              {' '}
              It enrolled
              <Since ms={agent.pending_since_ms} now={now} />.
            </>
          )}{' '}
          Until you approve it, it gets no jobs and its VMs are not shown.
        </p>
      )}
      {agent.pending_reregistration && (
        <p class="notice warning" data-testid="host-pending-warning">
          <strong>A new agent key asked to take over this host name</strong>
          <Since ms={agent.pending_since_ms} now={now} />. Approve only if you re-installed this host's agent: the
          new key then replaces the current one. Reject keeps the current key.
        </p>
      )}
    </>
  );
}
