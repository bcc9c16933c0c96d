/**
 * Branching from user code, on any backend (docs/reactive-api.md): a session holds one request's
 * tree of sequences. `model.session(input, build)` starts the input once and hands `build` the
 * root Node; from a Node you fork branches (n ways, or one per prompt), each decoding on its own
 * sequence with the Multiverse plan. A finished branch's result is a Node again, so you can fork
 * from it (tree search) or merge branches back (`mergeBranches`). Everything is released when the
 * Observable that `build` returns completes, errors or is unsubscribed.
 *
 * The nodes are written once here; a SessionBackend supplies the sequences: the embedded engine's
 * (rx/native-session.ts: forked native sequences over the shared KV prefix, decoded together in the
 * step loop) or a remote server's (src/remote/session.ts: text, re-sent with each request).
 *
 *   model.session(prompt, (root) => root.fork(5, { temperature: 0.8 }).pipe(vote((r) => answerOf(r.text))))
 */
import { defer, from, mergeAll, Observable, type ObservableInput } from 'rxjs';
import { GenerationError } from '../engine/errors.js';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { DoneEvent, GenerationEvent } from '../multiverse/events.js';
import { BranchOutlet } from './branch-outlet.js';
import type { Branch, ForkSpec, Node } from './node.js';

export type { Branch, BranchResult, ForkSpec, Node, SessionPlan } from './node.js';

/** What a session asks of a backend: sequences of type S, options resolved as R, and the plan's runs. */
export interface SessionBackend<S extends { readonly branch: string }, R = unknown> {
  /** A fork's options with the backend's defaults filled in. @throws GenerationError INVALID_REQUEST. */
  resolve(options: GenerateOptions): R;
  /** n children of `seq` for branches decoding with `options` (what they need is reserved first, where the backend reserves anything). */
  fork(seq: S, n: number, options: R): Promise<S[]>;
  /**
   * `seq` followed by each child's own part, in order.
   * @throws GenerationError INVALID_REQUEST when a child does not continue `seq`.
   */
  merge(seq: S, children: readonly S[]): Promise<S>;
  /** Frees this sequence's hold on what it keeps (nothing, for a remote one). */
  release(seq: S): void;
  /**
   * Decodes one branch from `child` with the Multiverse plan, its own prompt (if any) appended
   * first; `emit` gets its tokens, forks and joins. `cancel` ends it early (the result then says
   * truncated).
   */
  branch(child: S, prompt: string | undefined, options: R, emit: (event: GenerationEvent) => void): BranchRun<S>;
}

export interface BranchRun<S> {
  /** The branch's done event (what it added) and the sequence it ended on. */
  readonly result: Promise<{ done: DoneEvent; end: S }>;
  cancel(): void;
}

class SessionNode<S extends { readonly branch: string }, R> implements Node {
  constructor(
    private readonly backend: SessionBackend<S, R>,
    /** What every fork of the session starts from (a fork's own options go over them). */
    private readonly options: GenerateOptions,
    /** @internal */ readonly seq: S,
  ) {}

  get branch(): string {
    return this.seq.branch;
  }

  fork(spec: ForkSpec, options: GenerateOptions = {}): Observable<Branch> {
    return defer(async () => {
      const prompts = branchPrompts(spec);
      const resolved = this.backend.resolve({ ...this.options, ...options });
      const children = await this.backend.fork(this.seq, prompts.length, resolved);
      return children.map((child, i) => this.startBranch(child, i, prompts[i], resolved));
    }).pipe(mergeAll());
  }

  generate(options: GenerateOptions = {}): Observable<Branch> {
    return this.fork(1, options);
  }

  merge(children: readonly Node[]): Observable<Node> {
    return defer(async () => {
      const seqs = children.map((c) => {
        if (!(c instanceof SessionNode) || c.backend !== this.backend) throw new GenerationError('INVALID_REQUEST', 'merge takes nodes of the same session');
        return (c as SessionNode<S, R>).seq;
      });
      if (seqs.length === 0) throw new GenerationError('INVALID_REQUEST', 'merge needs at least one node');
      return new SessionNode(this.backend, this.options, await this.backend.merge(this.seq, seqs)) as Node;
    });
  }

  release(): void {
    this.backend.release(this.seq);
  }

  /** Starts decoding one branch in the background and returns its handle. */
  private startBranch(child: S, index: number, prompt: string | undefined, options: R): Branch {
    let run: BranchRun<S> | undefined;
    const outlet = new BranchOutlet({ branch: child.branch, index, ...(prompt !== undefined ? { prompt } : {}), parent: this }, () => run?.cancel());
    run = this.backend.branch(child, prompt, options, (e) => outlet.push(e));
    run.result.then(
      // A branch that forked ends on the join, whose context holds its paths: that is where it stands.
      ({ done, end }) => outlet.end(done, new SessionNode(this.backend, this.options, end)),
      (err: unknown) => outlet.fail(err),
    );
    return outlet.handle;
  }
}

/** One entry per branch a ForkSpec asks for: its own prompt, or undefined. */
function branchPrompts(spec: ForkSpec): (string | undefined)[] {
  const prompts = typeof spec === 'number' ? (Number.isInteger(spec) && spec > 0 ? new Array<undefined>(spec).fill(undefined) : []) : spec.prompts;
  if (!Array.isArray(prompts) || prompts.length === 0) throw new GenerationError('INVALID_REQUEST', `fork needs at least one branch, got ${JSON.stringify(spec)}`);
  return prompts;
}

/** One subscription's session on a backend: its root once ready (undefined if closed meanwhile), and its teardown. */
export interface OpenSession<S extends { readonly branch: string }, R> {
  readonly ready: Promise<{ backend: SessionBackend<S, R>; root: S } | undefined>;
  /** Frees everything and stops every branch still running. */
  end(): void;
}

/**
 * Runs `build` over the root node of a session that `open` starts for each subscription; the
 * session lives until the Observable that `build` returns completes, errors or is unsubscribed
 * (or until starting it fails). `closed()` turns true once the subscriber has gone.
 */
export function runSession<S extends { readonly branch: string }, R, T>(
  open: (closed: () => boolean) => OpenSession<S, R>,
  options: GenerateOptions,
  build: (root: Node) => ObservableInput<T>,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let closed = false;
    let inner: { unsubscribe(): void } | undefined;
    const session = open(() => closed);
    session.ready
      .then((ready) => {
        if (ready && !closed) inner = from(build(new SessionNode(ready.backend, options, ready.root))).subscribe(subscriber);
      })
      .catch((err: unknown) => subscriber.error(err));
    return () => {
      closed = true;
      inner?.unsubscribe();
      session.end();
    };
  });
}
