/**
 * The stage view of a generation (docs/reactive-api.md): a stream of stages instead of flat events.
 *
 *   generate(...)  --[sequential: tokens$]--[map: goal, branches$]--[sequential: tokens$]--[done]--|
 *                                              |
 *                         branches$  --[PathBranch 1: label, outline, tokens$, stages$]--[PathBranch 2 …]--|
 *
 * A sequential stage carries the tokens of one stretch of a sequence. A map stage carries the goal
 * and one PathBranch per path, each backed by its own forked native sequence; a branch's own stages
 * show blocks nested in it. When every branch completes, the engine merges their KV (the reduce)
 * and the parent's next sequential stage continues from the combined context.
 *
 * Inner streams replay from their start, so subscribing late loses nothing. Unsubscribing from a
 * branch (all of its subscribers gone before it ends) cancels that path: the merge goes on with it
 * marked truncated.
 */
import { Observable, ReplaySubject, Subject } from 'rxjs';
import { ancestorsOf, ROOT_BRANCH } from '../engine/branch-path.js';
import { BranchTree } from './branch-tree.js';
import type { DoneEvent, GenerationEvent, JoinEvent, TokenEvent } from './events.js';
import { letGoCancels } from './let-go.js';

export interface SequentialStage {
  kind: 'sequential';
  branch: string;
  tokens$: Observable<TokenEvent>;
}

export interface MapStage {
  kind: 'map';
  branch: string;
  /** The goal block's text, outlines included. */
  goal: string;
  /** One branch per path, all known at the fork; completes at once. */
  branches$: Observable<PathBranch>;
  /** Emits the join (paths' lengths, which were truncated) when the merge happened, then completes. */
  join$: Observable<JoinEvent>;
}

/** The end of the request: usage, stats and the whole transcript. */
export interface DoneStage {
  kind: 'done';
  done: DoneEvent;
}

export type Stage = SequentialStage | MapStage | DoneStage;

export interface PathBranch {
  /** PathBranch path, e.g. '0/1'. */
  branch: string;
  label: string;
  outline: string;
  /** Every token of this path, nested blocks included, in generation order. */
  tokens$: Observable<TokenEvent>;
  /** This path's own stages (a nested block appears as a map stage). */
  stages$: Observable<Stage>;
}

/** What the stage view keeps for each branch of the tree. */
interface Open {
  stages: Subject<Stage>;
  tokens?: Subject<TokenEvent>;
  stage?: ReplaySubject<TokenEvent>;
  join?: ReplaySubject<JoinEvent>;
}

/** Builds the stage view over a flat event stream; `cancelBranch` is called when a branch is let go. */
export function stagesOf(events$: Observable<GenerationEvent>, cancelBranch: (branch: string) => void): Observable<Stage> {
  return new Observable<Stage>((subscriber) => {
    const root = new Subject<Stage>();
    const tree = new BranchTree<Open>(ROOT_BRANCH);
    tree.root.view = { stages: root };
    const rootSub = root.subscribe(subscriber);

    const closeStage = (o: Open) => {
      o.stage?.complete();
      o.stage = undefined;
    };

    const sub = events$.subscribe({
      next: (e) => {
        if (e.type === 'token') {
          const node = tree.token(e);
          const o = node?.live ? node.view : undefined;
          if (!o) return; // a path closed after its branch was let go
          if (!o.stage) {
            o.stage = new ReplaySubject<TokenEvent>();
            o.stages.next({ kind: 'sequential', branch: e.branch, tokens$: o.stage.asObservable() });
          }
          o.stage.next(e);
          for (const b of ancestorsOf(e.branch)) tree.get(b)?.view?.tokens?.next(e);
        } else if (e.type === 'fork') {
          const o = tree.get(e.branch)!.view!;
          closeStage(o);
          const branches = new ReplaySubject<PathBranch>();
          o.join = new ReplaySubject<JoinEvent>();
          o.stages.next({ kind: 'map', branch: e.branch, goal: e.goal, branches$: branches.asObservable(), join$: o.join.asObservable() });
          const fork = tree.fork(e)!;
          e.paths.forEach((p, i) => {
            const node = fork.paths[i]!;
            const child = { stages: new ReplaySubject<Stage>(), tokens: new ReplaySubject<TokenEvent>() };
            node.view = child;
            const ended = () => !node.live;
            branches.next({
              ...p,
              tokens$: letGoCancels(child.tokens, ended, () => cancelBranch(p.branch)),
              stages$: letGoCancels(child.stages, ended, () => cancelBranch(p.branch)),
            });
          });
          branches.complete();
        } else if (e.type === 'join') {
          const o = tree.get(e.branch)!.view!;
          for (const path of tree.join(e)?.paths ?? []) {
            const child = path.view!;
            closeStage(child);
            child.stages.complete();
            child.tokens?.complete();
          }
          o.join?.next(e);
          o.join?.complete();
          o.join = undefined;
        } else {
          closeStage(tree.root.view!);
          root.next({ kind: 'done', done: e });
          root.complete();
        }
      },
      error: (err: unknown) => {
        for (const { view: o } of tree.live()) {
          if (!o) continue;
          o.stage?.error(err);
          if (o.stages !== root) o.stages.error(err);
          o.tokens?.error(err);
        }
        root.error(err);
      },
    });
    return () => {
      sub.unsubscribe();
      rootSub.unsubscribe();
    };
  });
}
