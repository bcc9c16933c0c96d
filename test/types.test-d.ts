/**
 * Type tests of the public API (checked by tsc through vitest's typecheck, never run): stages and
 * events narrow by their tag, sessions hand out the documented shapes, and the operators' input
 * and output types compose in a pipe.
 */
import { take, type Observable, type OperatorFunction } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { bestOf, mapBranch, mergeBranches, reduceBranches, toText, vote } from '../src/index.js';
import { createServer } from '../src/server/index.js';
import type {
  Branch,
  BranchResult,
  DoneEvent,
  DoneStage,
  ForkEvent,
  ForkSpec,
  GenerateInput,
  GenerateOptions,
  GenerationEvent,
  JoinEvent,
  MapStage,
  Model,
  Node,
  PathBranch,
  SequentialStage,
  Stage,
  TokenEvent,
  VoteResult,
} from '../src/index.js';

declare const model: Model;
declare const stage: Stage;
declare const event: GenerationEvent;
declare const branches$: Observable<Branch>;

describe('Model', () => {
  it('generate gives stages, events gives flat events, session gives what build returns', () => {
    expectTypeOf(model.generate).parameters.toEqualTypeOf<[GenerateInput, GenerateOptions?]>();
    expectTypeOf(model.generate('hi')).toEqualTypeOf<Observable<Stage>>();
    expectTypeOf(model.events([1, 2, 3])).toEqualTypeOf<Observable<GenerationEvent>>();
    expectTypeOf(model.session('hi', {}, (root) => root.fork(2).pipe(bestOf()))).toEqualTypeOf<Observable<BranchResult>>();
    expectTypeOf(model.session('hi', {}, async () => 42)).toEqualTypeOf<Observable<number>>();
  });

  it('takes a string, chat messages or token ids', () => {
    expectTypeOf<string>().toExtend<GenerateInput>();
    expectTypeOf<{ role: string; content: string }[]>().toExtend<GenerateInput>();
    expectTypeOf<number[]>().toExtend<GenerateInput>();
    expectTypeOf<{ prompt: string }>().not.toExtend<GenerateInput>();
  });
});

describe('Stage', () => {
  it('narrows by kind', () => {
    if (stage.kind === 'sequential') {
      expectTypeOf(stage).toEqualTypeOf<SequentialStage>();
      expectTypeOf(stage.tokens$).toEqualTypeOf<Observable<TokenEvent>>();
    } else if (stage.kind === 'map') {
      expectTypeOf(stage).toEqualTypeOf<MapStage>();
      expectTypeOf(stage.branches$).toEqualTypeOf<Observable<PathBranch>>();
      expectTypeOf(stage.join$).toEqualTypeOf<Observable<JoinEvent>>();
      expectTypeOf(stage.goal).toBeString();
    } else {
      expectTypeOf(stage).toEqualTypeOf<DoneStage>();
      expectTypeOf(stage.done).toEqualTypeOf<DoneEvent>();
    }
    expectTypeOf<Stage['kind']>().toEqualTypeOf<'sequential' | 'map' | 'done'>();
  });

  it('gives a path branch its label, outline, tokens and own stages', () => {
    expectTypeOf<PathBranch>().toEqualTypeOf<{ branch: string; label: string; outline: string; tokens$: Observable<TokenEvent>; stages$: Observable<Stage> }>();
  });
});

describe('GenerationEvent', () => {
  it('narrows by type', () => {
    if (event.type === 'token') {
      expectTypeOf(event).toEqualTypeOf<TokenEvent>();
      expectTypeOf(event.logprob).toBeNumber();
      expectTypeOf(event.forced).toEqualTypeOf<true | undefined>();
    } else if (event.type === 'fork') {
      expectTypeOf(event).toEqualTypeOf<ForkEvent>();
      expectTypeOf(event.paths[0]).toEqualTypeOf<{ branch: string; label: string; outline: string }>();
    } else if (event.type === 'join') {
      expectTypeOf(event).toEqualTypeOf<JoinEvent>();
      expectTypeOf(event.paths[0].truncated).toBeBoolean();
    } else {
      expectTypeOf(event).toEqualTypeOf<DoneEvent>();
      expectTypeOf(event.finishReason).toEqualTypeOf<'stop' | 'length'>();
      expectTypeOf(event.usage.criticalPathTokens).toBeNumber();
    }
    expectTypeOf<GenerationEvent['type']>().toEqualTypeOf<'token' | 'fork' | 'join' | 'done'>();
  });
});

describe('sessions', () => {
  it('Node forks branches, merges nodes and releases', () => {
    expectTypeOf<Node['fork']>().toEqualTypeOf<(spec: ForkSpec, options?: GenerateOptions) => Observable<Branch>>();
    expectTypeOf<Node['generate']>().toEqualTypeOf<(options?: GenerateOptions) => Observable<Branch>>();
    expectTypeOf<Node['merge']>().toEqualTypeOf<(children: readonly Node[]) => Observable<Node>>();
    expectTypeOf<Node['release']>().toEqualTypeOf<() => void>();
    expectTypeOf<ForkSpec>().toEqualTypeOf<number | { prompts: string[] }>();
  });

  it('Branch streams tokens and one result; the result is a node again', () => {
    expectTypeOf<Branch['tokens$']>().toEqualTypeOf<Observable<TokenEvent>>();
    expectTypeOf<Branch['result$']>().toEqualTypeOf<Observable<BranchResult>>();
    expectTypeOf<Branch['parent']>().toEqualTypeOf<Node>();
    expectTypeOf<Branch['prompt']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<BranchResult['node']>().toEqualTypeOf<Node>();
    expectTypeOf<BranchResult['logprobs']>().toEqualTypeOf<number[]>();
    expectTypeOf<BranchResult['finishReason']>().toEqualTypeOf<'stop' | 'length'>();
    expectTypeOf<BranchResult['truncated']>().toBeBoolean();
  });
});

describe('operators', () => {
  it('reduce branches to their documented results', () => {
    expectTypeOf(reduceBranches((rs) => rs.length)).toEqualTypeOf<OperatorFunction<Branch, number>>();
    expectTypeOf(reduceBranches(async (rs) => rs.map((r) => r.text))).toEqualTypeOf<OperatorFunction<Branch, string[]>>();
    expectTypeOf(vote((r) => r.text)).toEqualTypeOf<OperatorFunction<Branch, VoteResult>>();
    expectTypeOf<VoteResult>().toEqualTypeOf<{ answer: string | undefined; votes: Record<string, number>; winners: BranchResult[]; results: BranchResult[] }>();
    expectTypeOf(bestOf()).toEqualTypeOf<OperatorFunction<Branch, BranchResult>>();
    expectTypeOf(mergeBranches()).toEqualTypeOf<OperatorFunction<Branch, Node>>();
  });

  it('map branches and tokens, and compose in a pipe', () => {
    expectTypeOf(mapBranch(take(3))).toEqualTypeOf<OperatorFunction<Branch, Branch>>();
    expectTypeOf(toText()).toEqualTypeOf<OperatorFunction<TokenEvent, string>>();
    expectTypeOf(branches$.pipe(mapBranch(take(3)), vote((r) => r.text))).toEqualTypeOf<Observable<VoteResult>>();
    // A key must return a string or undefined, and a per-branch operator must keep token events.
    // @ts-expect-error a number is not a vote key
    vote((r) => r.tokenIds.length);
    // @ts-expect-error toText turns tokens into strings, which are no longer a branch's tokens
    mapBranch(toText());
  });
});

describe('entry points', () => {
  it('the library exports no native types and leaves the server, client and protocol to their sub-paths', () => {
    // @ts-expect-error KvStats is the native binding's type (model.kvStats() still returns it)
    type Kv = import('../src/index.js').KvStats;
    // @ts-expect-error NativeTensorRef is the native binding's type
    type Tensor = import('../src/index.js').NativeTensorRef;
    // @ts-expect-error the WebSocket client is multiverse-rx/client's
    type Connection = import('../src/index.js').MultiverseConnection;
    // @ts-expect-error the wire types are multiverse-rx/protocol's
    type Event = import('../src/index.js').ServerEvent;
    expectTypeOf<Kv | Tensor | Connection | Event>().toBeAny();
    expectTypeOf<import('../src/client/index.js').MultiverseConnection['close']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<Model>().toMatchTypeOf<Parameters<typeof createServer>[0]>();
  });
});
