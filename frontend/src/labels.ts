// A host's labels as the operator edits them: one `key=value` per line.
//
// Only the line format is checked here (the server cannot see it once the
// text is an object); which keys and values are allowed is the server's call,
// and its 400 message is shown as it is.

export type Labels = Record<string, string>;

export type ParsedLabels = { labels: Labels; error?: undefined } | { labels?: undefined; error: string };

/** `{"rack": "r1", "zone": "a"}` → "rack=r1\nzone=a", sorted by key. */
export function formatLabels(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join('\n');
}

/**
 * Reads `key=value` lines: blank lines are skipped, the key and value are
 * trimmed, the first `=` splits them (a value may hold more). A line without
 * `=`, an empty key or a key given twice is an error naming the line.
 */
export function parseLabels(text: string): ParsedLabels {
  const labels = new Map<string, string>(); // a Map: a key such as "__proto__" stays a plain key
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const at = line.indexOf('=');
    const key = at < 0 ? '' : line.slice(0, at).trim();
    if (key === '') return { error: `Line ${index + 1}: write each label as key=value.` };
    if (labels.has(key)) return { error: `Line ${index + 1}: the label "${key}" is given twice.` };
    labels.set(key, line.slice(at + 1).trim());
  }
  return { labels: Object.fromEntries(labels) };
}
