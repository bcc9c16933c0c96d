/**
 * Marble tests of the branch operators (src/rx/operators) on fake branches built from test
 * observables: the values they emit, when they subscribe to and let go of each branch's streams,
 * and how errors travel.
 */
import { EMPTY, lastValueFrom, map, mergeMap, of, take, takeWhile, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  bestOf,
  GenerationError,
  mapBranch,
  mergeBranches,
  reduceBranches,
  toText,
  vote,
  type Branch,
  type BranchResult,
  type Node,
  type TokenEvent,
} from '../src/index.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function fakeNode(branch: string, merge: Node['merge'] = () => EMPTY): Node {
  return { branch, fork: () => EMPTY, generate: () => EMPTY, merge, release: () => undefined };
}

const ROOT = fakeNode('0');

function result(index: number, over: Partial<BranchResult> = {}): BranchResult {
  const branch = `0/${index}`;
  return { branch, index, tokenIds: [], text: '', logprobs: [], meanLogprob: -1, finishReason: 'stop', truncated: false, node: fakeNode(branch), ...over };
}

function fakeBranch(index: number, result$: Observable<BranchResult>, tokens$: Observable<TokenEvent> = EMPTY, parent: Node = ROOT): Branch {
  return { branch: `0/${index}`, index, parent, tokens$, events$: tokens$, result$ };
}

function token(text: string): TokenEvent {
  return { type: 'token', branch: '0/0', tokenId: 0, position: 0, text, logprob: 0 };
}

/** Branches whose results are already in (one frame after subscription), keyed a, b, c, … */
function settled(results: BranchResult[], cold: TestScheduler['createColdObservable']): Record<string, Branch> {
  return Object.fromEntries(results.map((r, i) => [String.fromCharCode(97 + i), fakeBranch(r.index, cold('-(r|)', { r }))]));
}

describe('reduceBranches', () => {
  it('subscribes each result$ as its branch arrives, lets go after its result, and emits fn(results) in index order', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const r0 = result(0);
      const r1 = result(1);
      const a$ = cold('----(r|)', { r: r1 });
      const b$ = cold('-(r|)', { r: r0 });
      const branches = cold('--a--b--|', { a: fakeBranch(1, a$), b: fakeBranch(0, b$) });
      const seen: BranchResult[][] = [];
      const out = branches.pipe(reduceBranches((rs) => (seen.push(rs), rs.map((r) => r.branch).join(' '))));
      expectObservable(out).toBe('--------(x|)', { x: '0/0 0/1' });
      expectSubscriptions(a$.subscriptions).toBe('--^---!');
      expectSubscriptions(b$.subscriptions).toBe('-----^!');
      expectSubscriptions(branches.subscriptions).toBe('^-------!');
    });
  });

  it('waits for results that arrive after the branch stream completed', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const late$ = cold('-----(r|)', { r: result(0) });
      expectObservable(cold('a|', { a: fakeBranch(0, late$) }).pipe(reduceBranches((rs) => rs.length))).toBe('-----(x|)', { x: 1 });
    });
  });

  it('errors when a result$ errors, letting go of the other branches', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const err = new GenerationError('KV_EXHAUSTED', 'no room');
      const a$ = cold('-------(r|)', { r: result(0) });
      const b$ = cold<BranchResult>('--#', undefined, err);
      const branches = cold('a-b----|', { a: fakeBranch(0, a$), b: fakeBranch(1, b$) });
      expectObservable(branches.pipe(reduceBranches(() => 'never'))).toBe('----#', undefined, err);
      expectSubscriptions(a$.subscriptions).toBe('^---!');
      expectSubscriptions(branches.subscriptions).toBe('^---!');
    });
  });

  it('errors when fn throws, and when a branch ends without a result', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('boom');
      const ok = cold('a|', { a: fakeBranch(0, cold('(r|)', { r: result(0) })) });
      expectObservable(ok.pipe(reduceBranches(() => { throw boom; }))).toBe('-#', undefined, boom);
      const empty = cold('a|', { a: fakeBranch(3, cold('--|')) });
      expectObservable(empty.pipe(reduceBranches(() => 0))).toBe('--#', undefined, new GenerationError('INVALID_REQUEST', 'branch 0/3 ended without a result'));
    });
  });

  it('waits for a Promise returned by fn', async () => {
    const branches = of(fakeBranch(0, of(result(0))), fakeBranch(1, of(result(1))));
    await expect(lastValueFrom(branches.pipe(reduceBranches(async (rs) => rs.length * 10)))).resolves.toBe(20);
  });
});

describe('vote', () => {
  it('emits the majority key with its votes and winners once every branch is in', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const rs = [result(0, { text: ' 42' }), result(1, { text: ' 7' }), result(2, { text: ' 42' }), result(3, { text: ' none' })];
      const out = cold('-a-b-c-d-|', settled(rs, cold)).pipe(vote((r) => r.text.match(/\d+/)?.[0]));
      expectObservable(out).toBe('---------(v|)', { v: { answer: '42', votes: { 42: 2, 7: 1 }, winners: [rs[0], rs[2]], results: rs } });
    });
  });

  it('breaks a tie by the lowest branch index, and has no answer when nobody votes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // x first votes at index 0, y reaches two votes first: x still wins the tie.
      const keys = ['x', 'y', 'y', 'x'];
      const rs = keys.map((k, i) => result(i, { text: k }));
      expectObservable(cold('abcd|', settled(rs, cold)).pipe(vote((r) => r.text), map((v) => [v.answer, v.winners.map((w) => w.index)]))).toBe('----(v|)', {
        v: ['x', [0, 3]],
      });
      const silent = [result(0), result(1)];
      expectObservable(cold('ab|', settled(silent, cold)).pipe(vote(() => undefined))).toBe('--(v|)', { v: { answer: undefined, votes: {}, winners: [], results: silent } });
    });
  });
});

describe('bestOf', () => {
  it('emits the highest mean logprob; a tie goes to the lowest index', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const rs = [result(0, { meanLogprob: -1.2 }), result(1, { meanLogprob: -0.4 }), result(2, { meanLogprob: -0.4 })];
      expectObservable(cold('--a--b--c--|', settled(rs, cold)).pipe(bestOf())).toBe('-----------(b|)', { b: rs[1] });
    });
  });

  it('takes a custom score, and errors on no branch at all', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const rs = [result(0, { text: 'short' }), result(1, { text: 'longest' }), result(2, { text: 'longer' })];
      expectObservable(cold('abc|', settled(rs, cold)).pipe(bestOf((r) => r.text.length))).toBe('---(b|)', { b: rs[1] });
      expectObservable(cold<Branch>('--|').pipe(bestOf())).toBe('--#', undefined, new GenerationError('INVALID_REQUEST', 'bestOf needs at least one branch'));
    });
  });
});

describe('mergeBranches', () => {
  it("merges the results' nodes in index order into the parent, once every branch is in", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const merged = fakeNode('0');
      const merge$ = cold('--(n|)', { n: merged });
      const parent = fakeNode('0', () => merge$);
      const r0 = result(0);
      const r1 = result(1);
      const branches = cold('-a--b-|', { a: fakeBranch(1, cold('---(r|)', { r: r1 }), EMPTY, parent), b: fakeBranch(0, cold('-(r|)', { r: r0 }), EMPTY, parent) });
      expectObservable(branches.pipe(mergeBranches())).toBe('--------(n|)', { n: merged });
      expectSubscriptions(merge$.subscriptions).toBe('------^-!');
    });
  });

  it('passes the children in index order', async () => {
    const calls: string[][] = [];
    const parent = fakeNode('0', (children) => (calls.push(children.map((c) => c.branch)), of(fakeNode('0'))));
    const branches = of(fakeBranch(1, of(result(1)), EMPTY, parent), fakeBranch(0, of(result(0)), EMPTY, parent));
    await lastValueFrom(branches.pipe(mergeBranches()));
    expect(calls).toEqual([['0/0', '0/1']]);
  });

  it('errors on branches of different parents, and on no branch at all', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const other = fakeNode('0/1');
      const r$ = cold('-(r|)', { r: result(0) });
      const branches = cold('a--b-|', { a: fakeBranch(0, r$), b: fakeBranch(1, r$, EMPTY, other) });
      expectObservable(branches.pipe(mergeBranches())).toBe('---#', undefined, new GenerationError('INVALID_REQUEST', 'mergeBranches: branch 0/1 forked from 0/1, not 0'));
      expectObservable(cold<Branch>('-|').pipe(mergeBranches())).toBe('-#', undefined, new GenerationError('INVALID_REQUEST', 'mergeBranches needs at least one branch'));
    });
  });
});

describe('mapBranch', () => {
  const t = { a: token('a'), b: token('b'), c: token('c'), d: token('d') };

  it('applies the operator to tokens$: take(2) lets go of the tokens after two values', () => {
    scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const tokens$ = cold('-a-b-c-d-|', t);
      const branch = fakeBranch(0, hot('---------(r|)', { r: result(0) }), tokens$);
      expectObservable(cold('(x|)', { x: branch }).pipe(mapBranch(take(2)), mergeMap((b) => b.tokens$))).toBe('-a-(b|)', t);
      expectSubscriptions(tokens$.subscriptions).toBe('^--!');
    });
  });

  it('drives the cut from result$ alone, then emits the branch result', () => {
    scheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const tokens$ = cold('-a-b-c-d-|', t);
      const truncated = result(0, { truncated: true });
      const result$ = hot('-----------(r|)', { r: truncated });
      const branch = fakeBranch(0, result$, tokens$);
      expectObservable(cold('(x|)', { x: branch }).pipe(mapBranch(take(2)), mergeMap((b) => b.result$))).toBe('-----------(r|)', { r: truncated });
      expectSubscriptions(tokens$.subscriptions).toBe('^--!');
      expectSubscriptions(result$.subscriptions).toBe('---^-------!');
    });
  });

  it('keeps every other field of the branch, and feeds reducers', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const tokens$ = cold('-a-b-c-|', t);
      const branch = fakeBranch(4, cold('(r|)', { r: result(4) }), tokens$);
      const out = cold('(x|)', { x: branch }).pipe(
        mapBranch(takeWhile((e) => e.text !== 'c')),
        reduceBranches(([r]) => r.branch),
      );
      expectObservable(out).toBe('-----(y|)', { y: '0/4' });
      expectSubscriptions(tokens$.subscriptions).toBe('^----!');
    });
  });

  it('errors result$ when the tokens error', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const err = new GenerationError('ENGINE_ERROR', 'step failed');
      const branch = fakeBranch(0, cold('----(r|)', { r: result(0) }), cold('-a-#', t, err));
      expectObservable(cold('(x|)', { x: branch }).pipe(mapBranch(take(5)), mergeMap((b) => b.result$))).toBe('---#', undefined, err);
    });
  });
});

describe('toText', () => {
  it('emits the running text after each token', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const tokens$ = cold('-a-b-c-|', { a: token('He'), b: token('llo'), c: token('!') });
      expectObservable(tokens$.pipe(toText())).toBe('-x-y-z-|', { x: 'He', y: 'Hello', z: 'Hello!' });
      expectSubscriptions(tokens$.subscriptions).toBe('^------!');
    });
  });

  it('passes errors through', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const err = new Error('x');
      expectObservable(cold('-a-#', { a: token('He') }, err).pipe(toText())).toBe('-x-#', { x: 'He' }, err);
    });
  });
});
