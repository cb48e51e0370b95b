// Unmount what each component test rendered, put the page back at "/" and
// forget what the tab remembered (console client ids).
import { cleanup } from '@testing-library/preact';
import { afterEach } from 'vitest';

afterEach(() => {
  cleanup();
  window.history.replaceState(null, '', '/');
  window.sessionStorage.clear();
});
