// A table's header row from a list of column names; numeric columns align right, and an
// actions column gets a name only screen readers hear.

export interface Column {
  label: string;
  numeric?: boolean;
}

export function TableHead({ columns, actions = false }: { columns: (string | Column)[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((column) => {
          const { label, numeric } = typeof column === 'string' ? { label: column, numeric: false } : column;
          return (
            <th key={label} scope="col" class={numeric ? 'num' : undefined}>
              {label}
            </th>
          );
        })}
        {actions && (
          <th scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}
