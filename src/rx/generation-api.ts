/**
 * The public generating calls every backend offers, written once over the three a backend
 * implements (events, stages, sessions): options are checked when the call is made (a misspelled
 * key throws a TypeError naming it), `signal` aborts like unsubscribing, and the promise and
 * async-iterator forms (`complete`, `stream`) are built on the Observables.
 */
import type { Observable, ObservableInput } from 'rxjs';
import { checkOptionShapes, type GenerateOptions } from '../engine/generate-options.js';
import { abortable } from './abort.js';
import type { GenerationBackend } from './backend.js';
import { completionOf, type Completion } from './completion.js';
import { eventIterator } from './event-iterator.js';
import type { GenerationEvent } from './events.js';
import type { GenerateInput } from './generate.js';
import type { Node, SessionPlan } from './session.js';
import type { Stage } from './stages.js';

export abstract class GenerationApi implements GenerationBackend {
  /** The backend's flat event stream of one request (options already checked, signal removed). */
  protected abstract eventsOf(input: GenerateInput, options: GenerateOptions): Observable<GenerationEvent>;
  /** The backend's stage stream of one request. */
  protected abstract stagesOf(input: GenerateInput, options: GenerateOptions): Observable<Stage>;
  /** The backend's session over one prefilled input. */
  protected abstract sessionOf<T>(input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>, plan: SessionPlan): Observable<T>;

  /**
   * A cold Observable of stages: sequential stretches (`tokens$`), parallel blocks (`branches$`,
   * one Branch per path) and a final done stage. Unsubscribing (or aborting `options.signal`)
   * cancels the request and frees its KV within one step; unsubscribing from one branch cancels that path.
   * @throws TypeError at once for an unknown option key or a value of the wrong type.
   *
   * @example
   * ```ts
   * model.generate('Compute 12*3+24*5', { temperature: 0 }).subscribe((stage) => {
   *   if (stage.kind === 'sequential') stage.tokens$.subscribe((t) => process.stdout.write(t.text));
   *   if (stage.kind === 'map') stage.branches$.subscribe((b) => b.tokens$.subscribe((t) => console.log(b.label, t.text)));
   * });
   * ```
   */
  generate(input: GenerateInput, options: GenerateOptions = {}): Observable<Stage> {
    return this.request(options, (rest) => this.stagesOf(input, rest));
  }

  /**
   * The same generation as flat events (token, fork, join, done), each naming its branch path:
   * what UIs, the CLI and the wire protocol use. Errors are GenerationError values.
   * @throws TypeError at once for an unknown option key or a value of the wrong type.
   *
   * @example
   * ```ts
   * const model = await loadModel();
   * model.events('Compute 12*3+24*5', { maxTokens: 64, temperature: 0 }).subscribe((e) => {
   *   if (e.type === 'token') process.stdout.write(e.text);
   * });
   * ```
   */
  events(input: GenerateInput, options: GenerateOptions = {}): Observable<GenerationEvent> {
    return this.request(options, (rest) => this.eventsOf(input, rest));
  }

  /**
   * Branching from your own code: prefills `input` once and hands `build` the root node to fork,
   * reduce and fork again from (vote, best-of, lossless merge); the session's KV is freed when
   * what `build` returns ends or is unsubscribed. `plan.branches` reserves the KV of the branches
   * you will fork before anything runs (see SessionPlan).
   * @throws TypeError at once for an unknown option key or a value of the wrong type.
   *
   * @example
   * ```ts
   * // Self-consistency: five samples, majority answer.
   * model.session('Compute 17*3', {}, (root) =>
   *   root.fork(5, { temperature: 0.8, maxTokens: 48 }).pipe(vote((r) => r.text.match(/Answer: (\d+)/)?.[1])),
   * ).subscribe((v) => console.log(v.answer, v.votes));
   * ```
   */
  session<T>(input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>, plan: SessionPlan = {}): Observable<T> {
    return this.request(options, (rest) => this.sessionOf(input, rest, build, plan));
  }

  /**
   * Runs one generation to its end: `{ text, tokens, tree, usage, stats, … }`.
   * Rejects with the request's GenerationError, or with an `AbortError` when `options.signal` aborts.
   *
   * @example
   * ```ts
   * const { text, stats } = await model.complete('Compute 37*4+12*9', { temperature: 0 });
   * console.log(text.split('\n').at(-1), stats.forks);
   * // Logs:
   * // Answer: 256 1
   * ```
   */
  complete(input: GenerateInput, options: GenerateOptions = {}): Promise<Completion> {
    return completionOf(this.events(input, options));
  }

  /**
   * The flat events as an async iterator: `for await (const e of model.stream(…))`. Breaking out
   * of the loop cancels the request and frees its KV.
   *
   * @example
   * ```ts
   * let text = '';
   * for await (const e of model.stream('Compute 17*3', { temperature: 0 })) if (e.type === 'token') text += e.text;
   * console.log(text.split('\n').at(-1));
   * // Logs:
   * // Answer: 51
   * ```
   */
  stream(input: GenerateInput, options: GenerateOptions = {}): AsyncIterableIterator<GenerationEvent> {
    return eventIterator(this.events(input, options));
  }

  private request<T>(options: GenerateOptions, run: (options: GenerateOptions) => Observable<T>): Observable<T> {
    const { signal, ...rest } = checkOptionShapes(options);
    return run(rest).pipe(abortable(signal));
  }
}
