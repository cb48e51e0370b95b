// The Deploy page's Network choice (beside the sizing; not a profile input): the profile's libvirt
// network, another of the host's by name, or QEMU's user-mode NIC with SSH forwarded from a host
// port and any other forwards. The draft and its checks are deployNetwork.ts's; the errors, the
// page's checks' or the server's, are keyed as the API keys them and shown beside their fields.

import type { JSX } from 'preact';
import {
  MAX_FORWARDS,
  SSH_PORT,
  LOOPBACK,
  sentIndexes,
  type ForwardDraft,
  type NetworkDraft,
  type NetworkMode,
} from '../deployNetwork';

interface Props {
  draft: NetworkDraft;
  /** The profile's own libvirt network's name. */
  profileNetwork: string;
  errors: Record<string, string>;
  onChange: (draft: NetworkDraft) => void;
}

const LABELS: Record<keyof ForwardDraft, string> = {
  host_port: 'Host port',
  guest_port: 'Guest port',
  address: 'Host address',
};

function Beside({ id, label, error }: { id: string; label: string; error: string | undefined }) {
  return error ? <p class="error" id={`${id}-error`} data-testid="field-error">{`${label} ${error}`}</p> : null;
}

function ForwardField(props: {
  row: number;
  field: keyof ForwardDraft;
  label: string;
  value: string;
  error: string | undefined;
  set: (value: string) => void;
}) {
  const { row, field, label, value, error, set } = props;
  const id = `forward-${row}-${field}`;
  return (
    <div class="field" data-field={id}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={id}
        type="text"
        inputMode={field === 'address' ? 'decimal' : 'numeric'}
        placeholder={field === 'address' ? LOOPBACK : undefined}
        value={value}
        autocomplete="off"
        spellcheck={false}
        aria-invalid={error !== undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onInput={(event) => set(event.currentTarget.value)}
      />
      <Beside id={id} label={LABELS[field]} error={error} />
    </div>
  );
}

/** A row's fields: SSH's (the first) has its guest port fixed. */
function fieldsOf(row: number): [keyof ForwardDraft, string][] {
  return row === 0
    ? [['host_port', 'SSH from host port'], ['address', 'on host address']]
    : [['host_port', 'Host port'], ['guest_port', 'to guest port'], ['address', 'on host address']];
}

/** SSH's row: its guest port, fixed, where the others' guest port field is. */
function SshGuestPort() {
  return (
    <div class="field">
      <span class="field-label">to guest port</span>
      <p class="fixed-value">
        <code>{SSH_PORT}</code> (SSH)
      </p>
    </div>
  );
}

function withSshGuestPort(row: number, fields: JSX.Element[]): JSX.Element[] {
  return row === 0 ? [fields[0], <SshGuestPort key="guest_port" />, ...fields.slice(1)] : fields;
}

function Forwards({ draft, errors, onChange }: Omit<Props, 'profileNetwork'>) {
  const indexes = sentIndexes(draft);
  const errorAt = (row: number, key: string) => {
    const index = indexes[row];
    return index === null ? undefined : errors[`network.forwards[${index}]${key}`];
  };
  const setRow = (row: number, change: Partial<ForwardDraft>) =>
    onChange({ ...draft, forwards: draft.forwards.map((one, i) => (i === row ? { ...one, ...change } : one)) });
  return (
    <div class="stack" data-testid="deploy-forwards-choice">
      {draft.forwards.map((forward, row) => (
        <div key={row} class="row forward-row" data-forward={row}>
          {withSshGuestPort(row, fieldsOf(row).map(([field, label]) => (
            <ForwardField
              key={field}
              row={row}
              field={field}
              label={label}
              value={forward[field]}
              error={errorAt(row, `.${field}`)}
              set={(value) => setRow(row, { [field]: value })}
            />
          )))}
          {row > 0 && (
            <button
              type="button"
              data-action="remove-forward"
              onClick={() => onChange({ ...draft, forwards: draft.forwards.filter((_, i) => i !== row) })}
            >
              Remove
            </button>
          )}
          <Beside id={`forward-${row}`} label="This forward" error={errorAt(row, '')} />
        </div>
      ))}
      <p class="muted">
        Leave the SSH port empty for no SSH forward. The host address is {LOOPBACK} unless given: reachable only
        from the host itself (jump through it with <code>ssh -J</code>); one of the host's own addresses publishes
        the port.
      </p>
      <p>
        <button
          type="button"
          data-action="add-forward"
          disabled={draft.forwards.length >= MAX_FORWARDS}
          onClick={() => onChange({ ...draft, forwards: [...draft.forwards, { host_port: '', guest_port: '', address: '' }] })}
        >
          Add a forward
        </button>
      </p>
    </div>
  );
}

export function NetworkPicker({ draft, profileNetwork, errors, onChange }: Props) {
  const choose = (mode: NetworkMode) => onChange({ ...draft, mode });
  const option = (mode: NetworkMode, label: string) => (
    <label class="check">
      <input
        type="radio"
        name="network-mode"
        value={mode}
        checked={draft.mode === mode}
        onChange={() => choose(mode)}
      />
      <span>{label}</span>
    </label>
  );
  return (
    <fieldset class="stack" data-testid="deploy-network">
      <legend>Network</legend>
      {option('profile', `The profile's libvirt network (${profileNetwork})`)}
      {option('named', 'Another libvirt network of the host')}
      {draft.mode === 'named' && (
        <div class="field" data-field="network-name">
          <label for="network-name">Network name</label>
          <input
            id="network-name"
            name="network-name"
            type="text"
            value={draft.name}
            maxLength={64}
            autocomplete="off"
            spellcheck={false}
            aria-invalid={errors.network !== undefined}
            aria-describedby={errors.network ? 'network-name-error' : 'network-name-help'}
            onInput={(event) => onChange({ ...draft, name: event.currentTarget.value })}
          />
          <p class="muted" id="network-name-help">
            The host card's “Pools and networks” lists the host's networks.
          </p>
          <Beside id="network-name" label="Network" error={errors.network} />
        </div>
      )}
      {option('user', 'User-mode NIC (no bridge), reached through ports forwarded from the host')}
      {draft.mode === 'user' && (
        <>
          <Beside id="network-user" label="Network" error={errors.network} />
          <Forwards draft={draft} errors={errors} onChange={onChange} />
        </>
      )}
      {draft.mode === 'profile' && <Beside id="network-profile" label="Network" error={errors.network} />}
    </fieldset>
  );
}
