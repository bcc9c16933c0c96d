/**
 * An Observable as an async iterator, for `for await (const event of model.stream(…))`: values are
 * buffered until the loop asks for them; leaving the loop early (`break`, `return`, a throw)
 * unsubscribes, which cancels the request and frees its KV; an error is thrown from the loop.
 * Nothing is subscribed before the first `next()`.
 */
import type { Observable, Subscription } from 'rxjs';

type End = { kind: 'complete' } | { kind: 'error'; error: unknown };

export function eventIterator<T>(source: Observable<T>): AsyncIterableIterator<T> {
  const buffered: T[] = [];
  let end: End | undefined;
  let subscription: Subscription | undefined;
  let wake: (() => void) | undefined;
  const settle = () => {
    wake?.();
    wake = undefined;
  };
  const start = () => {
    subscription ??= source.subscribe({
      next(value) {
        buffered.push(value);
        settle();
      },
      error(error: unknown) {
        end = { kind: 'error', error };
        settle();
      },
      complete() {
        end = { kind: 'complete' };
        settle();
      },
    });
  };
  const finished = (): IteratorResult<T> => ({ value: undefined, done: true });
  const iterator: AsyncIterableIterator<T> = {
    async next() {
      if (end === undefined) start();
      while (buffered.length === 0 && end === undefined) await new Promise<void>((resolve) => (wake = resolve));
      if (buffered.length > 0) return { value: buffered.shift()!, done: false };
      const last = end!;
      end = { kind: 'complete' };
      if (last.kind === 'error') throw last.error;
      return finished();
    },
    async return() {
      subscription?.unsubscribe();
      end = { kind: 'complete' };
      buffered.length = 0;
      return finished();
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
