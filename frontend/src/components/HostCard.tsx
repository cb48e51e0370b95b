// One host: its name, status, labels, when it was last heard from, what it
// runs on, what waits for approval, what can be done to it, and its VMs (none
// for a host still waiting for approval).

import { useEffect, useRef } from 'preact/hooks';
import { costlyWait, formatAgo, hypervisorFacts, hypervisorProblem } from '../format';
import type { ConsoleOps } from '../state/consoleJoin';
import { isPendingHost, type HostOps, type VmOps } from '../state/fleet';
import { hostsOnScreen } from '../state/onScreen';
import type { Agent, VM } from '../types';
import { HostActions } from './HostActions';
import { HostLabels } from './HostLabels';
import { HostPendingNotice } from './HostPendingNotice';
import { HostResources, HostUsage } from './HostResources';
import { StatusBadge } from './StatusBadge';
import { VmTable, type OnAction } from './VmTable';

interface Props {
  agent: Agent;
  /** Undefined until the host's VM list has arrived. */
  vms: VM[] | undefined;
  vmError: string | undefined;
  now: number;
  actionErrors: Record<string, string>;
  sending: Record<string, boolean>;
  onAction: OnAction;
  ops: HostOps;
  vmOps?: VmOps;
  consoles?: ConsoleOps;
}

function HypervisorInfo({ agent }: { agent: Agent }) {
  const facts = hypervisorFacts(agent.capabilities);
  if (facts.length === 0) return null;
  return (
    <dl class="facts" data-testid="host-capabilities">
      {facts.map(({ label, value }) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function CostlyWait({ agent }: { agent: Agent }) {
  const notice = costlyWait(agent);
  if (!notice) return null;
  return (
    <p class="notice warning" data-testid="host-waits-in-api">
      {notice}
    </p>
  );
}

function HypervisorProblem({ agent }: { agent: Agent }) {
  const problem = hypervisorProblem(agent);
  if (!problem) return null;
  return (
    <p class="error" role="alert" data-testid="host-hypervisor-problem">
      {problem}
    </p>
  );
}

function VmListError({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <p class="error" role="alert" data-testid="host-error">
      {message}
    </p>
  );
}

function HostVms(props: Omit<Props, 'now' | 'ops'>) {
  const { agent, vms, vmError, actionErrors, sending, onAction, vmOps, consoles } = props;
  if (isPendingHost(agent)) return null;
  if (vms === undefined) return vmError ? null : <p class="muted">Loading VMs…</p>;
  return (
    <VmTable
      agentId={agent.agent_id}
      hostName={agent.name}
      vms={vms}
      actionErrors={actionErrors}
      sending={sending}
      onAction={onAction}
      ops={vmOps}
      consoles={consoles}
      consoleUnavailable={agent.console_unavailable ?? null}
    />
  );
}

export function HostCard(props: Props) {
  const { agent, now } = props;
  const headingId = `host-${agent.agent_id}`;
  const card = useRef<HTMLElement>(null);
  useEffect(() => (card.current ? hostsOnScreen.watch(card.current, agent.agent_id) : undefined), [agent.agent_id]);
  return (
    <article
      ref={card}
      class="card host"
      data-testid="host"
      data-agent-id={agent.agent_id}
      aria-labelledby={headingId}
    >
      <header class="host-header">
        <h2 id={headingId} class="host-name" data-testid="host-name">
          {agent.name}
        </h2>
        {hypervisorProblem(agent) ? (
          <StatusBadge kind="host" status="no_hypervisor" label="no hypervisor" testId="host-status" />
        ) : (
          <StatusBadge kind="host" status={agent.status} testId="host-status" />
        )}
        <span class="muted" data-testid="host-last-seen">
          last seen {formatAgo(agent.last_seen_ms, now)}
        </span>
      </header>
      {(agent.hostname || agent.environment) && (
        <p class="muted host-meta">
          {agent.hostname}
          {agent.hostname && agent.environment ? ' · ' : ''}
          {agent.environment}
        </p>
      )}
      <HostLabels labels={agent.labels} />
      <HypervisorProblem agent={agent} />
      <HypervisorInfo agent={agent} />
      <HostUsage agent={agent} />
      {props.ops.readHostCapabilities && !isPendingHost(agent) && (
        <HostResources agentId={agent.agent_id} read={props.ops.readHostCapabilities} />
      )}
      <CostlyWait agent={agent} />
      <HostPendingNotice agent={agent} now={now} />
      <HostActions agent={agent} ops={props.ops} consoles={props.consoles} />
      <VmListError message={props.vmError} />
      <HostVms {...props} />
    </article>
  );
}
