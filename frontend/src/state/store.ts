// The one primitive behind the app's stores (fleet, jobs, console session,
// session, router): a value, who listens to it, and how it changes. A store
// module keeps its own rules (when it stops, what it fetches) and leaves the
// listening to this, so every store notifies the same way and useStore reads
// any of them.

export interface Subscribable {
  subscribe(listener: () => void): () => void;
}

export interface Listeners extends Subscribable {
  notify(): void;
}

/** Listeners, with `first`/`last` called when the first one comes and the last one goes (to listen to
 * something outside, such as the window's history, only while someone listens here). */
export function createListeners(hooks: { first?: () => void; last?: () => void } = {}): Listeners {
  const listeners = new Set<() => void>();
  return {
    notify: () => listeners.forEach((listener) => listener()),
    subscribe(listener) {
      if (listeners.size === 0) hooks.first?.();
      listeners.add(listener);
      return () => {
        if (listeners.delete(listener) && listeners.size === 0) hooks.last?.();
      };
    },
  };
}

export interface Store<T> extends Subscribable {
  get(): T;
  /** Replaces the value and tells every listener. */
  set(next: T): void;
  /** Merges what `change` returns from the current value into it, and tells every listener. */
  update(change: (current: T) => Partial<T>): void;
}

export function createStore<T extends object>(initial: T): Store<T> {
  let value = initial;
  const listeners = createListeners();
  return {
    get: () => value,
    set(next) {
      value = next;
      listeners.notify();
    },
    update(change) {
      value = { ...value, ...change(value) };
      listeners.notify();
    },
    subscribe: listeners.subscribe,
  };
}
