/**
 * Branching from user code against a remote server: the same Node / Branch / BranchResult shapes
 * as the embedded session (src/rx/session.ts), so the operators (vote, bestOf, mergeBranches,
 * reduceBranches, mapBranch) work unchanged. A node is text: forking n ways sends n parallel
 * requests that share the node's text as their prompt prefix (a server with prefix caching
 * computes it once); a branch's result is a node you can fork again from; merge is a node whose
 * text is the parent's followed by each child's own text, which the next request re-sends.
 * Ending the session aborts every request still running.
 */
import { defer, from, Observable, of, type ObservableInput } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { GenerateInput } from '../rx/generate.js';
import type { Branch, ForkSpec, Node } from '../rx/session.js';
import { BranchOutlet } from '../rx/branch-outlet.js';
import { resolveRemoteOptions, type RemoteRequestOptions } from './options.js';
import { RemoteRun } from './executor.js';
import type { RequestSeeds } from './seeds.js';
import { RemoteSequence } from './sequence.js';
import { prepareRequest, type RemoteSetup } from './setup.js';

/** What every node of one session shares. */
interface SessionContext {
  setup: RemoteSetup;
  options: GenerateOptions;
  /** One seed stream for the session: request rounds count per branch path across all forks. */
  seeds: RequestSeeds;
  /** Runs still going, halted when the session ends. */
  runs: Set<RemoteRun>;
}

class RemoteNode implements Node {
  readonly branch: string;

  constructor(
    private readonly s: SessionContext,
    /** @internal */ readonly seq: RemoteSequence,
  ) {
    this.branch = seq.branch;
  }

  fork(spec: ForkSpec, options: GenerateOptions = {}): Observable<Branch> {
    return defer(() => {
      const prompts = branchPrompts(spec);
      const request = resolveRemoteOptions({ ...this.s.options, ...options }, this.s.setup.template, this.s.setup.logprobs);
      return from(this.seq.fork(prompts.length).map((child, index) => this.startBranch(child, index, prompts[index], request)));
    });
  }

  generate(options: GenerateOptions = {}): Observable<Branch> {
    return this.fork(1, options);
  }

  merge(children: readonly Node[]): Observable<Node> {
    return defer(() => {
      const seqs = children.map((c) => {
        if (!(c instanceof RemoteNode) || c.s !== this.s || !this.seq.precedes(c.seq)) {
          throw new GenerationError('INVALID_REQUEST', 'merge takes results of forks of this node, in the same session');
        }
        return c.seq;
      });
      if (seqs.length === 0) throw new GenerationError('INVALID_REQUEST', 'merge needs at least one node');
      return of(new RemoteNode(this.s, this.seq.merge(seqs)) as Node);
    });
  }

  /** Nothing to free: a remote node holds no server state (the server's prefix cache is its own). */
  release(): void {}

  /** Starts decoding one branch (its own remote run) in the background and returns its handle. */
  private startBranch(child: RemoteSequence, index: number, prompt: string | undefined, request: RemoteRequestOptions): Branch {
    const run = new RemoteRun({ client: this.s.setup.client, request, seeds: this.s.seeds, emit: (e) => outlet.push(e) });
    const outlet = new BranchOutlet({ branch: child.branch, index, ...(prompt !== undefined ? { prompt } : {}), parent: this }, () => run.halt());
    this.s.runs.add(run);
    if (prompt !== undefined) child.extend(prompt);
    run
      .continueFrom(child)
      .then(
        ({ done, end }) => outlet.end(done, new RemoteNode(this.s, end)),
        (err: unknown) => outlet.fail(err),
      )
      .finally(() => this.s.runs.delete(run));
    return outlet.handle;
  }
}

/** One entry per branch a ForkSpec asks for: its own prompt, or undefined. */
function branchPrompts(spec: ForkSpec): (string | undefined)[] {
  const prompts = typeof spec === 'number' ? (Number.isInteger(spec) && spec > 0 ? new Array<undefined>(spec).fill(undefined) : []) : spec.prompts;
  if (!Array.isArray(prompts) || prompts.length === 0) throw new GenerationError('INVALID_REQUEST', `fork needs at least one branch, got ${JSON.stringify(spec)}`);
  return prompts;
}

/**
 * Runs `build` over the root node of `input`; requests still running when the Observable it
 * returns completes, errors or is unsubscribed are aborted.
 */
export function remoteSession<T>(setup: RemoteSetup, input: GenerateInput, options: GenerateOptions, build: (root: Node) => ObservableInput<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const runs = new Set<RemoteRun>();
    let inner: { unsubscribe(): void } | undefined;
    try {
      const { prompt, seeds } = prepareRequest(setup, input, options);
      inner = from(build(new RemoteNode({ setup, options, seeds, runs }, RemoteSequence.start('0', prompt)))).subscribe(subscriber);
    } catch (err) {
      subscriber.error(err);
    }
    return () => {
      inner?.unsubscribe();
      for (const run of runs) run.halt();
    };
  });
}
