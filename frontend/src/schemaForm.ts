// A form's state from a manifest's JSON Schema (`inputs_schema`, `sizing_schema`; README, "Guided
// deployments"), with nothing known about any one manifest: which fields show (x-visible-if), what
// they hold to start with, the body they send, the checks the schema allows before sending, and the
// server's refusals by field (`error.fields`) for the field that caused each.
//
// Every field's state is text (the size widget writes "40GiB"), a tick, or a choice of SSH keys
// (stored keys' ids and pasted text). What is sent follows the server's rules: a hidden field is
// left out, and so is an optional field left empty.

import type { ObjectSchema, PropertySchema } from './types';

export interface KeyChoice {
  /** Ids of keys stored in the account (`sshk_…`). */
  stored: string[];
  /** Keys pasted, one a line. */
  pasted: string;
}

export type FieldValue = string | boolean | KeyChoice;
export type FormValues = Record<string, FieldValue>;
/** Why a field is refused, by field name ('' for the form as a whole). */
export type FieldErrors = Record<string, string>;

export const SIZE_UNITS = ['MiB', 'GiB'] as const;
export type SizeUnit = (typeof SIZE_UNITS)[number];
const MIB_PER: Record<SizeUnit, number> = { MiB: 1, GiB: 1024 };

export function kindOf(prop: PropertySchema): string {
  return prop['x-kind'] ?? (prop.type === 'integer' ? 'integer' : prop.type === 'boolean' ? 'boolean' : 'string');
}

/** The properties' names in the order to show them (x-order, then any it leaves out). */
export function fieldOrder(schema: ObjectSchema): string[] {
  const names = Object.keys(schema.properties);
  const ordered = (schema['x-order'] ?? []).filter((name) => name in schema.properties);
  return [...ordered, ...names.filter((name) => !ordered.includes(name))];
}

/** A size's number and unit ("40GiB" → 40, GiB); an empty amount when none is written. */
export function sizeParts(value: string): { amount: string; unit: SizeUnit } {
  const match = /^(\d*)(MiB|GiB)$/.exec(value);
  return match ? { amount: match[1], unit: match[2] as SizeUnit } : { amount: value, unit: 'GiB' };
}

function startValue(prop: PropertySchema): FieldValue {
  const kind = kindOf(prop);
  const given = prop.default;
  if (kind === 'boolean') return given === true;
  if (kind === 'ssh-key') return { stored: [], pasted: '' };
  if (kind === 'size') return typeof given === 'string' ? given : 'GiB';
  return given === undefined || given === null ? '' : String(given);
}

/** The form's first state: each field's default, or empty. */
export function initialValues(schema: ObjectSchema): FormValues {
  return Object.fromEntries(fieldOrder(schema).map((name) => [name, startValue(schema.properties[name])]));
}

function pastedKeys(choice: KeyChoice): string[] {
  return choice.pasted
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** The value a field sends, or undefined when it is empty (not given). */
function sentValue(prop: PropertySchema, value: FieldValue | undefined): unknown {
  const kind = kindOf(prop);
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'object') {
    const keys = [...value.stored, ...pastedKeys(value)];
    if (keys.length === 0) return undefined;
    return prop['x-multiple'] ? keys : keys[0];
  }
  if (kind === 'size' && sizeParts(value).amount === '') return undefined;
  if (value.trim() === '' && kind !== 'password') return undefined;
  if (value === '') return undefined;
  if ((kind === 'integer' || kind === 'port') && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return kind === 'password' ? value : value.trim();
}

/** Which fields show: a field whose x-visible-if names a hidden or unmet field is hidden. */
export function visibleFields(schema: ObjectSchema, values: FormValues): string[] {
  const shown: Record<string, unknown> = {};
  const out: string[] = [];
  for (const name of fieldOrder(schema)) {
    const rule = schema.properties[name]['x-visible-if'];
    if (rule) {
      const other = shown[rule.input];
      const met = 'equals' in rule ? other === rule.equals : (rule.in ?? []).includes(other);
      if (!met) continue;
    }
    out.push(name);
    shown[name] = sentValue(schema.properties[name], values[name]) ?? schema.properties[name].default;
  }
  return out;
}

/** Whether a shown field must be filled: always, or when its x-visible-if holds (the schema's if/then). */
export function isRequired(schema: ObjectSchema, name: string): boolean {
  if ((schema.required ?? []).includes(name)) return true;
  return (schema.allOf ?? []).some((rule) => (rule.then?.required ?? []).includes(name));
}

/** The object to send: the shown fields that are not empty. */
export function collectValues(schema: ObjectSchema, values: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of visibleFields(schema, values)) {
    const value = sentValue(schema.properties[name], values[name]);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function patternRefuses(pattern: string, text: string): boolean {
  try {
    return !new RegExp(pattern, 'u').test(text);
  } catch {
    return false; // a pattern this browser cannot read is left to the server
  }
}

function textProblem(prop: PropertySchema, text: string): string | null {
  if (prop.minLength !== undefined && [...text].length < prop.minLength) {
    return `must be at least ${prop.minLength} characters.`;
  }
  if (prop.maxLength !== undefined && [...text].length > prop.maxLength) {
    return `must be at most ${prop.maxLength} characters.`;
  }
  if (prop.enum && !prop.enum.includes(text)) return 'must be one of the choices.';
  if (prop.pattern !== undefined && kindOf(prop) !== 'size' && patternRefuses(prop.pattern, text)) {
    return kindOf(prop) === 'hostname'
      ? "must be a host name: letters, digits and '-', not starting or ending with '-'."
      : 'is not in the expected form.';
  }
  return null;
}

function numberProblem(prop: PropertySchema, value: unknown): string | null {
  const low = prop.minimum;
  const high = prop.maximum;
  const range = low !== undefined && high !== undefined ? ` from ${low} to ${high}` : '';
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `must be a whole number${range}.`;
  if ((low !== undefined && value < low) || (high !== undefined && value > high)) return `must be${range.trimEnd()}.`;
  return null;
}

function sizeProblem(prop: PropertySchema, text: string): string | null {
  const { amount, unit } = sizeParts(text);
  if (!/^[1-9]\d{0,7}$/.test(amount)) return 'must be a whole number of MiB or GiB.';
  const mib = Number(amount) * MIB_PER[unit];
  const low = prop['x-min-mib'] ?? 1;
  const high = prop['x-max-mib'] ?? Number.MAX_SAFE_INTEGER;
  if (mib < low || mib > high) return `must be from ${low} MiB to ${high} MiB.`;
  return null;
}

function problem(prop: PropertySchema, value: unknown): string | null {
  const kind = kindOf(prop);
  if (kind === 'integer' || kind === 'port') return numberProblem(prop, value);
  if (kind === 'size') return sizeProblem(prop, value as string);
  if (Array.isArray(value) && prop.maxItems !== undefined && value.length > prop.maxItems) {
    return `may list at most ${prop.maxItems} keys.`;
  }
  return typeof value === 'string' && kind !== 'ssh-key' ? textProblem(prop, value) : null;
}

/** What the schema lets the page check before sending: required fields, lengths, patterns, bounds. */
export function checkValues(schema: ObjectSchema, values: FormValues): FieldErrors {
  const errors: FieldErrors = {};
  const sent = collectValues(schema, values);
  for (const name of visibleFields(schema, values)) {
    const prop = schema.properties[name];
    if (!(name in sent)) {
      if (isRequired(schema, name)) errors[name] = 'is required.';
      continue;
    }
    const why = problem(prop, sent[name]);
    if (why !== null) errors[name] = why;
  }
  return errors;
}

/**
 * The server's refusals under one prefix, by field: "inputs.hostname" under "inputs" is "hostname",
 * "installers.nginx.port" under "installers.nginx" is "port"; the prefix alone is the form's ('').
 */
export function errorsUnder(fields: Record<string, string>, prefix: string): FieldErrors {
  const out: FieldErrors = {};
  for (const [key, why] of Object.entries(fields)) {
    if (key === prefix) out[''] = why;
    else if (key.startsWith(`${prefix}.`)) out[key.slice(prefix.length + 1)] = why;
  }
  return out;
}

/** The other way round: a form's errors under its prefix, to merge with the others'. */
export function errorsAt(errors: FieldErrors, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).map(([name, why]) => [name ? `${prefix}.${name}` : prefix, why]));
}
