// Narrow the job list to one host and/or one status; a choice applies at once.

import type { JobFilter } from '../api';
import { JOB_STATUSES, type Agent, type JobStatus } from '../types';

interface Props {
  agents: Agent[];
  filter: JobFilter;
  onChange: (filter: JobFilter) => void;
}

export function JobFilters({ agents, filter, onChange }: Props) {
  return (
    <form class="filters" data-testid="job-filters" role="search" onSubmit={(event) => event.preventDefault()}>
      <label>
        Host
        <select
          name="job_host"
          value={filter.agentId ?? ''}
          onChange={(event) => onChange({ ...filter, agentId: event.currentTarget.value })}
        >
          <option value="">All hosts</option>
          {agents.map((agent) => (
            <option key={agent.agent_id} value={agent.agent_id}>
              {agent.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Status
        <select
          name="job_status"
          value={filter.status ?? ''}
          onChange={(event) => onChange({ ...filter, status: event.currentTarget.value as JobStatus | '' })}
        >
          <option value="">Any status</option>
          {JOB_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}
