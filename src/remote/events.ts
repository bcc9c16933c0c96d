/**
 * The cold Observable behind RemoteModel.events(): subscribing runs the remote Multiverse
 * scheduler; unsubscribing aborts every HTTP request of the run. Errors arrive as GenerationError
 * through `subscriber.error`, after the run's other requests were aborted. `onStart` hands the
 * run to a view that cancels single branches (the stage API).
 */
import { Observable } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { GenerationEvent } from '../multiverse/events.js';
import type { GenerateInput } from '../rx/generate.js';
import { RemoteRun } from './executor.js';
import { RemoteSequence } from './sequence.js';
import { prepareRequest, type RemoteSetup } from './setup.js';

export function remoteEvents(setup: RemoteSetup, input: GenerateInput, options: GenerateOptions, onStart?: (run: RemoteRun) => void): Observable<GenerationEvent> {
  return new Observable<GenerationEvent>((subscriber) => {
    let run: RemoteRun | undefined;
    try {
      const { prompt, request, seeds } = prepareRequest(setup, input, options);
      run = new RemoteRun({ client: setup.client, request, seeds, emit: (e) => subscriber.next(e) });
      onStart?.(run);
      run.continueFrom(RemoteSequence.start('0', prompt)).then(
        ({ done }) => {
          subscriber.next(done);
          subscriber.complete();
        },
        (err: unknown) => subscriber.error(err),
      );
    } catch (err) {
      subscriber.error(err);
    }
    return () => run?.halt();
  });
}
