import { describe, expect, it, vi } from 'vitest';
import { createListeners, createStore } from './store';

describe('createStore', () => {
  it('tells each listener of every change until it unsubscribes', () => {
    const store = createStore({ count: 0, name: 'a' });
    const heard = vi.fn();
    const stop = store.subscribe(heard);
    store.update((s) => ({ count: s.count + 1 }));
    expect(store.get()).toEqual({ count: 1, name: 'a' });
    store.set({ count: 5, name: 'b' });
    expect(heard).toHaveBeenCalledTimes(2);
    stop();
    store.update(() => ({ name: 'c' }));
    expect(heard).toHaveBeenCalledTimes(2);
    expect(store.get()).toEqual({ count: 5, name: 'c' });
  });
});

describe('createListeners', () => {
  it('calls first when the first listener comes and last when the last one goes, once each', () => {
    const first = vi.fn();
    const last = vi.fn();
    const listeners = createListeners({ first, last });
    const a = listeners.subscribe(() => {});
    const b = listeners.subscribe(() => {});
    expect(first).toHaveBeenCalledTimes(1);
    a();
    a();
    expect(last).not.toHaveBeenCalled();
    b();
    expect(last).toHaveBeenCalledTimes(1);
  });
});
