/**
 * `remoteModel(baseUrl)`: the observable API of the embedded Model (`events`, `generate`,
 * `session`) over any OpenAI-compatible server's `/v1/completions` (vLLM, SGLang, our own
 * `multiverse serve`), so code written against the embedded engine runs against a serving cluster
 * unchanged. Fork = parallel requests sharing the prefix text (servers with prefix caching reuse
 * its KV); merge = a continuation request with the combined text. What is exact and what is
 * approximate there: docs/remote.md.
 *
 * @example
 * ```ts
 * const model = remoteModel('http://127.0.0.1:8000/v1', { apiKey: process.env.API_KEY });
 * model.events('Compute 12*3+24*5', { maxTokens: 256 }).subscribe((e) => {
 *   if (e.type === 'token') process.stdout.write(e.text);
 * });
 * ```
 */
import { defer, Observable, type ObservableInput } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import { DEFAULT_TEMPLATE } from '../multiverse/template.js';
import { GenerationApi } from '../rx/generation-api.js';
import type { GenerationEvent } from '../multiverse/events.js';
import type { GenerateInput } from '../rx/generate.js';
import type { Node } from '../rx/session.js';
import { stagesOf, type Stage } from '../rx/stages.js';
import { CompletionsClient } from './completions-client.js';
import type { RemoteModelOptions } from './options.js';
import { RemoteRun } from './executor.js';
import { RemoteSequence } from './sequence.js';
import { remoteSession } from './session.js';
import { chatml, prepareRequest, type RemoteSetup } from './setup.js';

export class OpenAiRemoteModel extends GenerationApi {
  private readonly setup: RemoteSetup;

  /** @internal Use remoteModel(). */
  constructor(baseUrl: string, options: RemoteModelOptions) {
    super();
    const { template, chatTemplate, logprobs, ...client } = options;
    this.setup = {
      client: new CompletionsClient(baseUrl, client),
      template: template ?? DEFAULT_TEMPLATE,
      chatTemplate: chatTemplate ?? chatml,
      logprobs: logprobs ?? true,
    };
  }

  /** The API root requests go to (`…/v1`). */
  get baseUrl(): string {
    return this.setup.client.baseUrl;
  }

  /**
   * Stages, as Model.generate: sequential stretches, parallel blocks (one branch per path, each
   * its own streamed request), done. Unsubscribing aborts the requests; unsubscribing from one
   * branch aborts that path's request and the merge goes on with it truncated.
   * @internal
   */
  protected stagesOf(input: GenerateInput, options: GenerateOptions): Observable<Stage> {
    return defer(() => {
      let run: RemoteRun | undefined;
      return stagesOf(remoteEvents(this.setup, input, options, (r) => (run = r)), (branch) => run?.cancelBranch(branch));
    });
  }

  /** @internal Flat events (token, fork, join, done) with branch paths, as Model.events. */
  protected eventsOf(input: GenerateInput, options: GenerateOptions): Observable<GenerationEvent> {
    return remoteEvents(this.setup, input, options);
  }

  /** @internal Branching from user code, as Model.session: fork = parallel requests, merge = combined text. */
  protected sessionOf<T>(input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>): Observable<T> {
    return remoteSession(this.setup, input, options, build);
  }
}

/**
 * A remote backend over the OpenAI-compatible server at `baseUrl` (the API root, `/v1` included,
 * as the openai client's baseURL). Nothing is sent until a generation is subscribed.
 */
export function remoteModel(baseUrl: string, options: RemoteModelOptions = {}): OpenAiRemoteModel {
  return new OpenAiRemoteModel(baseUrl, options);
}

/**
 * The cold Observable behind events(): subscribing runs the Multiverse plan on the server;
 * unsubscribing aborts every HTTP request of the run. Errors arrive as GenerationError through
 * `subscriber.error`, after the run's other requests were aborted. `onStart` hands the run to a
 * view that cancels single branches (the stage API).
 */
function remoteEvents(setup: RemoteSetup, input: GenerateInput, options: GenerateOptions, onStart?: (run: RemoteRun) => void): Observable<GenerationEvent> {
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
