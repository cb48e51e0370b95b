// A list of credentials (API keys, enrolment tokens), each row ending in a Revoke button; the
// error of the last revoke or of loading shows above it, and an empty list says so.

import type { ComponentChildren } from 'preact';
import { useAction } from '../state/useAction';
import type { Resource } from '../state/useResource';
import { FormError } from './FormError';
import { type Column, TableHead } from './TableHead';

interface Props<T> {
  items: Resource<T[]>;
  columns: (string | Column)[];
  empty: string;
  revoke: (item: T) => Promise<void>;
  row: (item: T, button: ComponentChildren) => ComponentChildren;
  label: (item: T) => string;
  revoked: (item: T) => boolean;
}

export function RevocableTable<T>({ items, columns, empty, revoke, row, label, revoked }: Props<T>) {
  const action = useAction();
  const list = items.data ?? [];
  return (
    <>
      <FormError message={action.error || items.error} testId="action-error" />
      {items.data !== null && list.length === 0 && <p class="muted">{empty}</p>}
      {list.length > 0 && (
        <table>
          <TableHead columns={columns} actions />
          <tbody>
            {list.map((item) =>
              row(
                item,
                <td>
                  <button
                    type="button"
                    data-action="revoke"
                    aria-label={`Revoke ${label(item)}`}
                    disabled={action.busy || revoked(item)}
                    onClick={() => void action.run(() => revoke(item))}
                  >
                    Revoke
                  </button>
                </td>,
              ),
            )}
          </tbody>
        </table>
      )}
    </>
  );
}
