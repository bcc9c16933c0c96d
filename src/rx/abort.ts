/**
 * AbortSignal support for every generating call: aborting is unsubscribing (the request is
 * cancelled and its KV freed within one step), and the subscriber gets an `AbortError`, the error
 * `fetch` and Node's own APIs reject with, so `err.name === 'AbortError'` works as users expect.
 */
import { Observable } from 'rxjs';

/** The error an aborted call ends with: the signal's reason when it is an Error, else a DOMException named AbortError. */
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Mirrors `source` until `signal` aborts, then unsubscribes from it and errors with
 * `abortError(signal)`; an already aborted signal errors at once without subscribing.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * model.events('Compute 37*4+12*9', { signal: controller.signal }).subscribe({ error: (e) => console.log(e.name) });
 * controller.abort();
 * // Logs:
 * // AbortError
 * ```
 */
export function abortable<T>(signal: AbortSignal | undefined): (source: Observable<T>) => Observable<T> {
  if (!signal) return (source) => source;
  return (source) =>
    new Observable<T>((subscriber) => {
      if (signal.aborted) return subscriber.error(abortError(signal));
      // A plain observer, not `subscriber` itself: unsubscribing from the source must leave the
      // subscriber open to receive the AbortError.
      const subscription = source.subscribe({
        next: (value) => subscriber.next(value),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      const onAbort = () => {
        subscription.unsubscribe();
        subscriber.error(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      return () => {
        signal.removeEventListener('abort', onAbort);
        subscription.unsubscribe();
      };
    });
}
