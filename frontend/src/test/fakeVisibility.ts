// A tab a test hides and shows (the PageVisibility seam of the page stores).

/** A tab the test hides and shows. */
export function fakeVisibility(hidden = false) {
  const listeners = new Set<() => void>();
  return {
    hidden: () => hidden,
    onChange(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(nowHidden: boolean) {
      hidden = nowHidden;
      listeners.forEach((listener) => listener());
    },
    listening: () => listeners.size,
  };
}
