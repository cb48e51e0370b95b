// A host's labels as chips, `key=value`, sorted by key.

interface Props {
  labels: Record<string, string>;
}

export function HostLabels({ labels }: Props) {
  const keys = Object.keys(labels).sort();
  return (
    <ul class="labels" data-testid="host-labels" aria-label="Labels">
      {keys.length === 0 && <li class="muted">No labels</li>}
      {keys.map((key) => (
        <li key={key} class="chip" data-testid="host-label" data-key={key}>
          <span class="chip-key">{key}</span>={labels[key]}
        </li>
      ))}
    </ul>
  );
}
