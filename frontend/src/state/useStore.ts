// Re-render a component whenever an external store changes.

import { useEffect, useState } from 'preact/hooks';
import type { Subscribable } from './store';

export function useStore<T>(store: Subscribable, read: () => T): T {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const unsubscribe = store.subscribe(bump);
    bump(); // catch a change made between the first render and this effect
    return unsubscribe;
  }, [store]);
  return read();
}

/** The current time, ticking every `intervalMs` (for "last seen Ns ago"). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** A page's own store: made once, started while the component is mounted, its state read on each change. */
export function usePageStore<S extends Subscribable & { start(): void; stop(): void; getState(): unknown }>(
  make: () => S,
): [S, ReturnType<S['getState']>] {
  const [store] = useState(make);
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  return [store, useStore(store, store.getState) as ReturnType<S['getState']>];
}
