// A link to one of the app's own paths: a plain click stays in the app,
// a modified one (new tab, new window, …) is left to the browser.

import type { ComponentChildren } from 'preact';

/** A plain left click, without the keys that ask for a new tab or window. */
export function isPlainClick(event: MouseEvent): boolean {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

interface Props {
  href: string;
  onNavigate: (path: string) => void;
  testId?: string;
  label?: string;
  children: ComponentChildren;
}

export function AppLink({ href, onNavigate, testId, label, children }: Props) {
  return (
    <a
      href={href}
      data-testid={testId}
      aria-label={label}
      onClick={(event) => {
        if (!isPlainClick(event)) return;
        event.preventDefault();
        onNavigate(href);
      }}
    >
      {children}
    </a>
  );
}
