// Reading what was typed into a submitted form.

/** The named field's text ('' when absent). */
export function fieldValue(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === 'string' ? value : '';
}

/** Every value of a named field, e.g. the ticked checkboxes of a group. */
export function fieldValues(form: HTMLFormElement, name: string): string[] {
  return new FormData(form).getAll(name).filter((value): value is string => typeof value === 'string');
}

/**
 * An optional whole number: undefined when left empty, the number when it is
 * a whole number, NaN otherwise (so the caller can say which field is wrong).
 */
export function optionalInteger(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}
