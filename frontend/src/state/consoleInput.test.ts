import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createInputQueue, firstBatch, MAX_INPUT_CHARS, type SendVerdict } from './consoleInput';

/** A send the test answers by hand, one call at a time. */
function manualSend() {
  const sent: string[] = [];
  const answers: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  const send = vi.fn(
    (data: string) =>
      new Promise<void>((resolve, reject) => {
        sent.push(data);
        answers.push({ resolve, reject });
      }),
  );
  return {
    send,
    sent,
    answer: () => answers.shift()!.resolve(),
    refuse: (error: unknown) => answers.shift()!.reject(error),
  };
}

describe('console input queue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends keys typed within 30 ms of the first as one input', async () => {
    const { send, sent } = manualSend();
    const queue = createInputQueue({ send, onError: () => 'drop' });

    queue.push('l');
    await vi.advanceTimersByTimeAsync(10);
    queue.push('s');
    await vi.advanceTimersByTimeAsync(10);
    queue.push('\r');
    expect(send).not.toHaveBeenCalled();

    await vi.advanceTimersByTimeAsync(10);
    expect(sent).toEqual(['ls\r']);
  });

  it('starts a new input for a key typed after the window', async () => {
    const { send, sent, answer } = manualSend();
    const queue = createInputQueue({ send, onError: () => 'drop' });

    queue.push('a');
    await vi.advanceTimersByTimeAsync(30);
    answer();
    await vi.advanceTimersByTimeAsync(100);
    queue.push('b');
    await vi.advanceTimersByTimeAsync(30);

    expect(sent).toEqual(['a', 'b']);
  });

  it('keeps one input in flight; what is typed meanwhile goes next, in order, at once', async () => {
    const { send, sent, answer } = manualSend();
    const queue = createInputQueue({ send, onError: () => 'drop' });

    queue.push('1');
    await vi.advanceTimersByTimeAsync(30);
    queue.push('2');
    await vi.advanceTimersByTimeAsync(500);
    queue.push('3');
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toEqual(['1']);

    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['1', '23']);
    answer();
    await vi.advanceTimersByTimeAsync(100);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('tries a refused input again before anything typed after it', async () => {
    const { send, sent, answer, refuse } = manualSend();
    const verdicts: SendVerdict[] = [{ retryAfterMs: 1000 }];
    const queue = createInputQueue({ send, onError: () => verdicts.shift() ?? 'drop' });

    queue.push('echo');
    await vi.advanceTimersByTimeAsync(30);
    queue.push(' hi');
    refuse(new Error('backlog'));
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toEqual(['echo']);

    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual(['echo', 'echo hi']);
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.queued()).toBe('');
  });

  it('drops a failed input and what waited behind it, and reports each success', async () => {
    const { send, sent, answer, refuse } = manualSend();
    const onSent = vi.fn();
    const queue = createInputQueue({ send, onError: () => 'drop', onSent });

    queue.push('x');
    await vi.advanceTimersByTimeAsync(30);
    queue.push('y');
    refuse(new Error('read-only'));
    await vi.advanceTimersByTimeAsync(100);
    expect(sent).toEqual(['x']);
    expect(queue.queued()).toBe('');

    queue.push('z');
    await vi.advanceTimersByTimeAsync(30);
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['x', 'z']);
    expect(onSent).toHaveBeenCalledTimes(1);
  });

  it('sends nothing once stopped or cleared', async () => {
    const { send } = manualSend();
    const queue = createInputQueue({ send, onError: () => 'drop' });

    queue.push('gone');
    queue.clear();
    await vi.advanceTimersByTimeAsync(100);
    queue.stop();
    queue.push('late');
    await vi.advanceTimersByTimeAsync(100);
    expect(send).not.toHaveBeenCalled();
  });

  it('splits a long paste into inputs of at most 4096 characters, in order', async () => {
    const { send, sent, answer } = manualSend();
    const queue = createInputQueue({ send, onError: () => 'drop' });
    const paste = 'a'.repeat(MAX_INPUT_CHARS) + 'b'.repeat(10);

    queue.push(paste);
    await vi.advanceTimersByTimeAsync(30);
    answer();
    await vi.advanceTimersByTimeAsync(0);

    expect(sent.map((s) => s.length)).toEqual([MAX_INPUT_CHARS, 10]);
    expect(sent.join('')).toBe(paste);
  });
});

describe('firstBatch', () => {
  it('never cuts an emoji (a surrogate pair) in half', () => {
    const text = 'a'.repeat(MAX_INPUT_CHARS - 1) + '😀' + 'z';
    const head = firstBatch(text);
    expect(head.length).toBe(MAX_INPUT_CHARS - 1);
    expect(text.slice(head.length).startsWith('😀')).toBe(true);
  });

  it('takes a short text whole', () => {
    expect(firstBatch('ls -l\r')).toBe('ls -l\r');
  });
});
