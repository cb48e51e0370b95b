// Text reaches the page only through JSX (escaped), never as HTML strings
// (STYLE.md, SECURITY.md): no source file may use the ways around that.

import { describe, expect, it } from 'vitest';

const sources = import.meta.glob(['./**/*.{ts,tsx}', '!./**/*.test.{ts,tsx}'], {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

const FORBIDDEN = ['dangerouslySetInnerHTML', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write'];

describe('no HTML strings', () => {
  it('finds the sources', () => {
    expect(Object.keys(sources)).toContain('./components/App.tsx');
  });

  it.each(FORBIDDEN)('no source uses %s', (needle) => {
    const offenders = Object.entries(sources)
      .filter(([, text]) => text.includes(needle))
      .map(([path]) => path);
    expect(offenders).toEqual([]);
  });
});
