// Which hosts are on screen: the hosts page asks only those for a fresh sign of life (each answer is a
// heartbeat the operator pays for), so a wall screen of 200 hosts pays for the few in view.
// IntersectionObserver where the browser has one; without it (old browsers, tests) every host counts.

/** The ids of the hosts whose cards are on screen; undefined when that cannot be known (ask for all). */
export interface OnScreen {
  ids(): string[] | undefined;
  /** Follow one card; returns the function that stops following it. */
  watch(element: Element, id: string): () => void;
}

export function createOnScreen(
  Observer: typeof IntersectionObserver | undefined = globalThis.IntersectionObserver,
): OnScreen {
  if (Observer === undefined) return { ids: () => undefined, watch: () => () => {} };
  const shown = new Set<string>();
  const idOf = new WeakMap<Element, string>();
  const observer = new Observer((entries) => {
    for (const entry of entries) {
      const id = idOf.get(entry.target);
      if (id === undefined) continue;
      if (entry.isIntersecting) shown.add(id);
      else shown.delete(id);
    }
  });
  return {
    ids: () => [...shown],
    watch(element, id) {
      idOf.set(element, id);
      observer.observe(element);
      return () => {
        observer.unobserve(element);
        shown.delete(id);
      };
    },
  };
}

export const hostsOnScreen: OnScreen = createOnScreen();
