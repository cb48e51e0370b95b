// The one form renderer for manifests' schemas (a profile's or an installer's inputs, a profile's
// sizing): a field per shown property in x-order, its widget chosen by x-kind, its label, help,
// required mark and, beside it, why it was refused (by the page's checks or the server). The state
// lives with the caller (schemaForm.ts); this only draws it.

import type { JSX } from 'preact';
import {
  isRequired,
  kindOf,
  sizeParts,
  SIZE_UNITS,
  visibleFields,
  type FieldErrors,
  type FieldValue,
  type FormValues,
  type KeyChoice,
} from '../schemaForm';
import { MAX_PUBLIC_KEY } from '../limits';
import type { ObjectSchema, PropertySchema, SshKey } from '../types';

interface Props {
  schema: ObjectSchema;
  values: FormValues;
  onChange: (values: FormValues) => void;
  errors: FieldErrors;
  /** Makes the fields' ids unique on the page ("inputs", "installer-nginx"). */
  idPrefix: string;
  /** Keys stored in the account, offered by ssh-key fields. */
  sshKeys?: SshKey[];
}

interface FieldProps {
  id: string;
  name: string;
  prop: PropertySchema;
  value: FieldValue;
  set: (value: FieldValue) => void;
  described: string | undefined;
  invalid: boolean;
  sshKeys: SshKey[];
}

function TextField({ id, name, prop, value, set, described, invalid }: FieldProps) {
  return (
    <input
      id={id}
      name={name}
      type="text"
      inputMode={kindOf(prop) === 'email' ? 'email' : 'text'}
      value={value as string}
      maxLength={prop.maxLength}
      autocomplete="off"
      spellcheck={false}
      aria-describedby={described}
      aria-invalid={invalid}
      onInput={(event) => set(event.currentTarget.value)}
    />
  );
}

/** Masked, and never filled from the browser's saved passwords (it is a new VM's). */
function PasswordField({ id, name, prop, value, set, described, invalid }: FieldProps) {
  return (
    <input
      id={id}
      name={name}
      type="password"
      value={value as string}
      maxLength={prop.maxLength}
      autocomplete="new-password"
      aria-describedby={described}
      aria-invalid={invalid}
      onInput={(event) => set(event.currentTarget.value)}
    />
  );
}

function NumberField({ id, name, prop, value, set, described, invalid }: FieldProps) {
  return (
    <input
      id={id}
      name={name}
      type="number"
      step={1}
      inputMode="numeric"
      min={prop.minimum}
      max={prop.maximum}
      value={value as string}
      aria-describedby={described}
      aria-invalid={invalid}
      onInput={(event) => set(event.currentTarget.value)}
    />
  );
}

function SelectField({ id, name, prop, value, set, described, invalid }: FieldProps) {
  const options = prop['x-options'] ?? (prop.enum ?? []).map((v) => ({ value: String(v), label: String(v) }));
  return (
    <select
      id={id}
      name={name}
      value={value as string}
      aria-describedby={described}
      aria-invalid={invalid}
      onChange={(event) => set(event.currentTarget.value)}
    >
      {value === '' && <option value="">Choose…</option>}
      {options.map((option) => (
        <option key={option.value} value={option.value}>
          {option.label}
        </option>
      ))}
    </select>
  );
}

function SizeField({ id, name, value, set, described, invalid }: FieldProps) {
  const { amount, unit } = sizeParts(value as string);
  return (
    <span class="row">
      <input
        id={id}
        name={name}
        type="number"
        min={1}
        step={1}
        inputMode="numeric"
        value={amount}
        aria-describedby={described}
        aria-invalid={invalid}
        onInput={(event) => set(`${event.currentTarget.value}${unit}`)}
      />
      <select aria-label="Unit" value={unit} onChange={(event) => set(`${amount}${event.currentTarget.value}`)}>
        {SIZE_UNITS.map((u) => (
          <option key={u} value={u}>
            {u}
          </option>
        ))}
      </select>
    </span>
  );
}

function KeyField({ id, name, prop, value, set, described, invalid, sshKeys }: FieldProps) {
  const choice = value as KeyChoice;
  const many = prop['x-multiple'] === true;
  function toggle(keyId: string, on: boolean) {
    const others = choice.stored.filter((k) => k !== keyId);
    set({ ...choice, stored: on ? (many ? [...others, keyId] : [keyId]) : others });
  }
  return (
    <span class="stack" role="group" aria-labelledby={`${id}-label`} aria-describedby={described}>
      {sshKeys.length === 0 && <span class="muted">No SSH keys in your account yet (Account page): paste one.</span>}
      {sshKeys.map((key) => (
        <label key={key.key_id} class="check">
          <input
            type={many ? 'checkbox' : 'radio'}
            name={`${name}-stored`}
            value={key.key_id}
            checked={choice.stored.includes(key.key_id)}
            onChange={(event) => toggle(key.key_id, event.currentTarget.checked)}
          />
          <span>
            {key.name} <code class="muted">{key.fingerprint}</code>
          </span>
        </label>
      ))}
      <textarea
        id={id}
        name={name}
        class="mono"
        rows={2}
        spellcheck={false}
        placeholder={many ? 'Or paste public keys, one a line (ssh-ed25519 AAAA… you@host)' : 'Or paste a public key'}
        value={choice.pasted}
        maxLength={many ? ((prop.items?.maxLength ?? MAX_PUBLIC_KEY) + 1) * (prop.maxItems ?? 20) : prop.maxLength}
        aria-invalid={invalid}
        onInput={(event) => set({ ...choice, pasted: event.currentTarget.value })}
      />
    </span>
  );
}

const WIDGETS: Record<string, (props: FieldProps) => JSX.Element> = {
  integer: NumberField,
  password: PasswordField,
  port: NumberField,
  select: SelectField,
  size: SizeField,
  'ssh-key': KeyField,
};

function Field(props: FieldProps & { required: boolean; error: string | undefined }) {
  const { id, prop, value, set, required, error } = props;
  const kind = kindOf(prop);
  const help = prop['x-help'] ?? prop.description;
  const title = prop.title ?? props.name;
  if (kind === 'boolean') {
    return (
      <div class="field" data-field={props.name}>
        <label class="check">
          <input
            id={id}
            name={props.name}
            type="checkbox"
            checked={value === true}
            aria-describedby={props.described}
            onChange={(event) => set(event.currentTarget.checked)}
          />
          <span>{title}</span>
        </label>
        {help && <p class="muted" id={`${id}-help`}>{help}</p>}
        {error && <p class="error" id={`${id}-error`} data-testid="field-error">{`${title} ${error}`}</p>}
      </div>
    );
  }
  const Widget = WIDGETS[kind] ?? TextField;
  return (
    <div class="field" data-field={props.name}>
      <label for={id} id={`${id}-label`}>
        {title}
        {required && (
          <span class="required" aria-label="required">
            {' '}*
          </span>
        )}
      </label>
      <Widget {...props} />
      {help && <p class="muted" id={`${id}-help`}>{help}</p>}
      {error && <p class="error" id={`${id}-error`} data-testid="field-error">{`${title} ${error}`}</p>}
    </div>
  );
}

export function SchemaForm({ schema, values, onChange, errors, idPrefix, sshKeys = [] }: Props) {
  return (
    <div class="schema-form stack">
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      {visibleFields(schema, values).map((name) => {
        const prop = schema.properties[name];
        const id = `${idPrefix}-${name}`;
        const error = errors[name];
        const described = [prop['x-help'] ?? prop.description ? `${id}-help` : '', error ? `${id}-error` : '']
          .filter(Boolean)
          .join(' ');
        return (
          <Field
            key={name}
            id={id}
            name={name}
            prop={prop}
            value={values[name]}
            set={(value) => onChange({ ...values, [name]: value })}
            described={described || undefined}
            invalid={error !== undefined}
            required={isRequired(schema, name)}
            error={error}
            sshKeys={sshKeys}
          />
        );
      })}
    </div>
  );
}
