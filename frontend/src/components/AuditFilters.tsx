// Narrow the audit trail: an action, and a range of days (local time).

import type { AuditFilter } from '../api';
import { endOfDayMs, startOfDayMs } from '../format';
import { fieldValue } from '../forms';
import { MAX_AUDIT_ACTION } from '../limits';

interface Props {
  onApply: (filter: AuditFilter) => void;
}

/** The filter a submitted form asks for; an empty field filters nothing. */
export function filterOf(form: HTMLFormElement): AuditFilter {
  return {
    action: fieldValue(form, 'action').trim(),
    sinceMs: startOfDayMs(fieldValue(form, 'since')),
    untilMs: endOfDayMs(fieldValue(form, 'until')),
  };
}

export function AuditFilters({ onApply }: Props) {
  return (
    <form
      class="filters"
      data-testid="audit-filters"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        onApply(filterOf(event.currentTarget as HTMLFormElement));
      }}
      onReset={() => onApply({})}
    >
      <label>
        Action
        <input name="action" type="text" placeholder="e.g. auth.login" autocomplete="off" maxLength={MAX_AUDIT_ACTION} />
      </label>
      <label>
        Since
        <input name="since" type="date" />
      </label>
      <label>
        Until
        <input name="until" type="date" />
      </label>
      <div class="filter-buttons">
        <button type="submit" class="primary">
          Filter
        </button>
        <button type="reset">Clear</button>
      </div>
    </form>
  );
}
