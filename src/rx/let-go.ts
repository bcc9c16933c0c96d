/**
 * A branch's stream for subscribers, where letting go means "stop this branch": when every
 * subscriber has unsubscribed while the branch is still running, `cancel` is called (once).
 */
import { Observable, type Subject } from 'rxjs';

export function letGoCancels<T>(source: Subject<T>, ended: () => boolean, cancel: () => void): Observable<T> {
  let subscribers = 0;
  let cancelled = false;
  return new Observable<T>((subscriber) => {
    subscribers++;
    const sub = source.subscribe(subscriber);
    return () => {
      sub.unsubscribe();
      if (--subscribers === 0 && !ended() && !cancelled) {
        cancelled = true;
        cancel();
      }
    };
  });
}
