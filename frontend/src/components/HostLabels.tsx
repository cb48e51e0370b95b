// Labels as chips, `key=value`, sorted by key: a host's (HostLabels) or a VM's.

interface ChipsProps {
  labels: Record<string, string>;
  /** `host` or `vm`: names the test ids (`host-labels`, `host-label`…). */
  kind: 'host' | 'vm';
  /** What shows when there are none (nothing for a compact row). */
  empty?: string;
  class?: string;
}

export function LabelChips({ labels, kind, empty, class: extra }: ChipsProps) {
  const keys = Object.keys(labels).sort();
  return (
    <ul class={extra ? `labels ${extra}` : 'labels'} data-testid={`${kind}-labels`} aria-label="Labels">
      {keys.length === 0 && empty && <li class="muted">{empty}</li>}
      {keys.map((key) => (
        <li key={key} class="chip" data-testid={`${kind}-label`} data-key={key}>
          <span class="chip-key">{key}</span>={labels[key]}
        </li>
      ))}
    </ul>
  );
}

export function HostLabels({ labels }: { labels: Record<string, string> }) {
  return <LabelChips labels={labels} kind="host" empty="No labels" />;
}
