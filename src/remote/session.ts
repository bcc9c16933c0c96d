/**
 * A remote server's side of a session (src/rx/session.ts): the same Node / Branch / BranchResult
 * shapes as the embedded engine's, so the operators (vote, bestOf, mergeBranches, reduceBranches,
 * mapBranch) work unchanged. A node is text: forking n ways sends n parallel requests that share
 * the node's text as their prompt prefix (a server with prefix caching computes it once); a
 * merge is a node whose text is the parent's followed by each child's own text, which the next
 * request re-sends. Ending the session aborts every request still running.
 */
import type { Observable, ObservableInput } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { GenerationEvent } from '../multiverse/events.js';
import type { GenerateInput } from '../rx/generate.js';
import { runSession, type BranchRun, type Node, type SessionBackend } from '../rx/session.js';
import { RemoteRun } from './executor.js';
import { resolveRemoteOptions, type RemoteRequestOptions } from './options.js';
import type { RequestSeeds } from './setup.js';
import { RemoteSequence } from './sequence.js';
import { prepareRequest, type RemoteSetup } from './setup.js';

export function remoteSession<T>(setup: RemoteSetup, input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>): Observable<T> {
  return runSession(
    () => {
      const runs = new Set<RemoteRun>();
      const ready = (async () => {
        const { prompt, seeds } = prepareRequest(setup, input, options);
        return { backend: new RemoteSessionBackend(setup, seeds, runs), root: RemoteSequence.start('0', prompt) };
      })();
      return { ready, end: () => runs.forEach((run) => run.halt()) };
    },
    options,
    build,
  );
}

class RemoteSessionBackend implements SessionBackend<RemoteSequence, RemoteRequestOptions> {
  constructor(
    private readonly setup: RemoteSetup,
    /** One seed stream for the session: request rounds count per branch path across all forks. */
    private readonly seeds: RequestSeeds,
    /** Runs still going, halted when the session ends. */
    private readonly runs: Set<RemoteRun>,
  ) {}

  resolve(options: GenerateOptions): RemoteRequestOptions {
    return resolveRemoteOptions(options, this.setup.template, this.setup.logprobs);
  }

  async fork(seq: RemoteSequence, n: number): Promise<RemoteSequence[]> {
    return seq.fork(n);
  }

  async merge(seq: RemoteSequence, children: readonly RemoteSequence[]): Promise<RemoteSequence> {
    if (!children.every((c) => seq.precedes(c))) throw new GenerationError('INVALID_REQUEST', 'merge takes results of forks of this node, in the same session');
    return seq.merge(children);
  }

  /** Nothing to free: a remote node holds no server state (the server's prefix cache is its own). */
  release(): void {}

  branch(child: RemoteSequence, prompt: string | undefined, request: RemoteRequestOptions, emit: (event: GenerationEvent) => void): BranchRun<RemoteSequence> {
    const run = new RemoteRun({ client: this.setup.client, request, seeds: this.seeds, emit });
    this.runs.add(run);
    if (prompt !== undefined) child.extend(prompt);
    return { result: run.continueFrom(child).finally(() => this.runs.delete(run)), cancel: () => run.halt() };
  }
}
