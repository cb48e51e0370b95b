import { describe, expect, it } from 'vitest';
import { createOnScreen } from './onScreen';

/** An IntersectionObserver the test drives: `show(element, bool)` reports it entering or leaving view. */
function fakeObserver() {
  const observers: FakeObserver[] = [];
  class FakeObserver {
    watched = new Set<Element>();
    constructor(private readonly report: IntersectionObserverCallback) {
      observers.push(this);
    }
    observe(element: Element) {
      this.watched.add(element);
    }
    unobserve(element: Element) {
      this.watched.delete(element);
    }
    disconnect() {}
    fire(element: Element, isIntersecting: boolean) {
      if (!this.watched.has(element)) return;
      this.report([{ target: element, isIntersecting } as IntersectionObserverEntry], this as never);
    }
  }
  const show = (element: Element, visible: boolean) => observers.forEach((o) => o.fire(element, visible));
  return { Observer: FakeObserver as unknown as typeof IntersectionObserver, show };
}

describe('hosts on screen', () => {
  it('are the cards in view, as they scroll in and out and go away', () => {
    const { Observer, show } = fakeObserver();
    const onScreen = createOnScreen(Observer);
    const [a, b] = [document.createElement('article'), document.createElement('article')];
    const stopA = onScreen.watch(a, 'ag_a');
    onScreen.watch(b, 'ag_b');
    expect(onScreen.ids()).toEqual([]);

    show(a, true);
    show(b, true);
    expect(onScreen.ids()).toEqual(['ag_a', 'ag_b']);
    show(b, false);
    expect(onScreen.ids()).toEqual(['ag_a']);
    stopA();
    show(a, true); // no longer followed
    expect(onScreen.ids()).toEqual([]);
  });

  it('cannot be known without IntersectionObserver: then every host counts', () => {
    const onScreen = createOnScreen(undefined);
    onScreen.watch(document.createElement('article'), 'ag_a');
    expect(onScreen.ids()).toBeUndefined();
  });
});
