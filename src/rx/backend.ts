/**
 * What every generation backend offers (docs/remote.md): the embedded native
 * engine (`Model`) and a remote OpenAI-compatible server (`remoteModel()`) both implement it, so
 * code written against one runs against the other unchanged, operators included.
 */
import type { Observable, ObservableInput } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { GenerationEvent } from './events.js';
import type { GenerateInput } from './generate.js';
import type { Node, SessionPlan } from './session.js';
import type { Stage } from './stages.js';

export interface GenerationBackend {
  /** A cold Observable of stages: sequential stretches, parallel blocks (one branch per path), done. */
  generate(input: GenerateInput, options?: GenerateOptions): Observable<Stage>;
  /** The same generation as flat events (token, fork, join, done), each naming its branch path. */
  events(input: GenerateInput, options?: GenerateOptions): Observable<GenerationEvent>;
  /** Branching from user code: `build` gets the root node to fork, reduce and fork again from. */
  session<T>(input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>, plan?: SessionPlan): Observable<T>;
}
