// What the operator types, on its way to the VM. Keystrokes typed within
// `delayMs` of the first go out as one POST; one POST is in flight at a time
// and what is typed meanwhile waits behind it, so the VM sees keys in order
// and a fast typist costs a request per burst, not per key.

/** How long the first key of a burst waits for the rest. */
export const INPUT_DELAY_MS = 30;

/** The most characters one input may carry (docs/protocol.md). */
export const MAX_INPUT_CHARS = 4096;

/** After a failed send: try the same text again after a while, or drop it and all queued behind it. */
export type SendVerdict = { retryAfterMs: number } | 'drop';

export interface InputQueueOptions {
  send: (data: string) => Promise<void>;
  onError: (error: unknown) => SendVerdict;
  /** Called after every successful send (e.g. to clear an error shown). */
  onSent?: () => void;
  delayMs?: number;
}

/** The longest head of `text` one input may carry, never splitting a surrogate pair. */
export function firstBatch(text: string, max = MAX_INPUT_CHARS): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const splitsPair = code >= 0xd800 && code <= 0xdbff;
  return text.slice(0, splitsPair ? max - 1 : max);
}

export function createInputQueue({ send, onError, onSent, delayMs = INPUT_DELAY_MS }: InputQueueOptions) {
  let queued = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending = false;
  let stopped = false;

  function later(ms: number): void {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, ms);
  }

  async function flush(): Promise<void> {
    if (sending || stopped || queued === '') return;
    const batch = firstBatch(queued);
    queued = queued.slice(batch.length);
    sending = true;
    let retryMs: number | null = null;
    try {
      await send(batch);
      onSent?.();
    } catch (error) {
      const verdict = onError(error);
      if (verdict === 'drop') queued = '';
      else {
        queued = batch + queued;
        retryMs = verdict.retryAfterMs;
      }
    } finally {
      sending = false;
    }
    if (stopped) return;
    if (retryMs !== null) later(retryMs);
    else if (queued !== '') void flush(); // typed while the last one was on its way: send it now
  }

  function clear(): void {
    queued = '';
    clearTimeout(timer);
    timer = undefined;
  }

  return {
    /** Queues what was typed; it leaves within `delayMs`, or right after the send in flight. */
    push(data: string): void {
      if (stopped || data === '') return;
      queued += data;
      if (!sending) later(delayMs);
    },
    /** Forgets what has not been sent yet (this tab stopped being the writer). */
    clear,
    stop(): void {
      stopped = true;
      clear();
    },
    /** What waits to be sent (for tests). */
    queued: () => queued,
  };
}

export type InputQueue = ReturnType<typeof createInputQueue>;
