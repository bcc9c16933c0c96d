/**
 * Runs work on many items with at most `concurrency` in flight, and hands the results over in the
 * items' order whatever order they finish in: the output is the same for any concurrency.
 */

/**
 * Calls `work` on every item and `deliver` with each result, in item order. When a `work` call
 * throws, no new item starts; the others in flight finish and are delivered as far as the order
 * allows, then the first error is thrown.
 */
export async function forEachOrdered<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
  deliver: (result: R, index: number) => void,
): Promise<void> {
  const finished = new Map<number, R>();
  let nextToStart = 0;
  let nextToDeliver = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && nextToStart < items.length) {
      const index = nextToStart++;
      try {
        finished.set(index, await work(items[index]));
      } catch (error) {
        failure ??= { error };
        return;
      }
      while (finished.has(nextToDeliver)) {
        const result = finished.get(nextToDeliver) as R;
        finished.delete(nextToDeliver);
        deliver(result, nextToDeliver++);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}
