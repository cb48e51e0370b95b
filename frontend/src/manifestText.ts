// What the Manifests page does with a manifest's text around the server's check: its size before
// sending (the server's limit), and the server's refusal (`error.fields`, one reason per path such as
// "inputs[2].default") as a list in the order the document reads, for the page to show beside the text.

import { MAX_MANIFEST_BYTES } from './limits';

export interface FieldProblem {
  /** Where, as the server names it ("inputs[2].default"); '' is the whole manifest. */
  path: string;
  /** Why, in the server's words ("is greater than max."). */
  reason: string;
}

/** A path's parts, each index as a number: "inputs[2].default" → ["inputs", 2, "default"]. */
function parts(path: string): Array<string | number> {
  return path
    .split(/[.[\]]+/)
    .filter((part) => part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** Orders paths as a document reads: the whole manifest first, then by each part, indices by number. */
export function comparePaths(a: string, b: string): number {
  const left = parts(a);
  const right = parts(b);
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const [x, y] = [left[i], right[i]];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y));
  }
  return left.length - right.length;
}

/** The server's refusal by path, in document order. */
export function problemsOf(fields: Record<string, string>): FieldProblem[] {
  return Object.keys(fields)
    .sort(comparePaths)
    .map((path) => ({ path, reason: fields[path] }));
}

/** What to call a path on the page. */
export function pathLabel(path: string): string {
  return path === '' ? 'The manifest' : path;
}

/** Why this text cannot be sent (empty, or larger than the server takes), or null. */
export function textProblem(text: string): string | null {
  if (text.trim() === '') return 'Paste a manifest, or choose its file.';
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_MANIFEST_BYTES) {
    return `The manifest is ${bytes} bytes; the server takes at most ${MAX_MANIFEST_BYTES} (64 KiB).`;
  }
  return null;
}

/** Why a chosen file cannot be read in (too large), or null; checked before reading it. */
export function fileProblem(file: { name: string; size: number }): string | null {
  if (file.size > MAX_MANIFEST_BYTES) {
    return `${file.name} is ${file.size} bytes; a manifest is at most ${MAX_MANIFEST_BYTES} (64 KiB).`;
  }
  return null;
}
