// Narrow the audit trail: text the action contains, a range of days (local
// time), and for admins whose trail (their own, or failed logins to no account).

import type { AuditFilter } from '../api';
import { endOfDayMs, startOfDayMs } from '../format';
import { fieldValue } from '../forms';
import { MAX_AUDIT_ACTION } from '../limits';

interface Props {
  onApply: (filter: AuditFilter) => void;
  /** Offer the trail of failed logins to no account (`?owner=anonymous`, admins only). */
  admin?: boolean;
}

/** The filter a submitted form asks for; an empty field filters nothing. */
export function filterOf(form: HTMLFormElement): AuditFilter {
  return {
    action: fieldValue(form, 'action').trim(),
    sinceMs: startOfDayMs(fieldValue(form, 'since')),
    untilMs: endOfDayMs(fieldValue(form, 'until')),
    owner: fieldValue(form, 'owner') || undefined,
  };
}

export function AuditFilters({ onApply, admin = false }: Props) {
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
        <input
          name="action"
          type="text"
          placeholder="e.g. login, vm."
          title="Records whose action contains this text"
          autocomplete="off"
          maxLength={MAX_AUDIT_ACTION}
        />
      </label>
      {admin && (
        <label>
          Trail
          <select name="owner">
            <option value="">Mine</option>
            <option value="anonymous">Failed logins to no account</option>
          </select>
        </label>
      )}
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
