/**
 * The stage view of generate() on the tiny model with forced scripts: a transcript nested two
 * levels deep comes out as sequential → map → sequential → done, with each branch's labels,
 * outlines, tokens and nested stages; letting go of one branch truncates that path alone; letting
 * go of the request mid-fork frees the pool; and a request running alongside is not disturbed.
 */
import { lastValueFrom, take, tap, toArray, type Observable, type Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type GenerateOptions, type GenerationEvent, type JoinEvent, type MapStage, type Model, type Stage, type TokenEvent } from '../src/index.js';
import { forceScripts } from './support/forcing.js';
import { tinyModel } from './support/models.js';
import { expectPoolFree, settled } from './support/pool.js';

const PROMPT = [7, 14, 21, 28];

const all = <T>(o: Observable<T>): Promise<T[]> => lastValueFrom(o.pipe(toArray()));
const textOf = (tokens: TokenEvent[]) => tokens.map((t) => t.text).join('');
const tokensOf = (events: GenerationEvent[]) => events.filter((e): e is TokenEvent => e.type === 'token');
/** Calls `f` with every map stage, passing all stages through. */
const onMap = (f: (stage: MapStage) => void) => tap<Stage>((s) => s.kind === 'map' && f(s));

/** Two paths; the first nests a block of two more. */
const NESTED: Record<string, string> = {
  '0': ' plan<Parallel><Goal><Outline>1: left</Outline><Outline>2: right</Outline></Goal> both</Conclusion></Parallel> end',
  '0/0': ' L<Parallel><Goal><Outline>1.1: a</Outline><Outline>1.2: b</Outline></Goal> ab</Conclusion></Parallel> l</Path>',
  '0/0/0': ' x</Path>',
  '0/0/1': ' y y</Path>',
  '0/1': ' R r r</Path>',
};

/** A plain-data picture of a stage stream, read after the fact (every inner stream replays). */
async function picture(stages: Stage[]): Promise<unknown[]> {
  return Promise.all(
    stages.map(async (s) => {
      if (s.kind === 'sequential') return { sequential: s.branch, text: textOf(await all(s.tokens$)) };
      if (s.kind === 'done') return { done: s.done.finishReason };
      const branches = await all(s.branches$);
      return {
        map: s.branch,
        goal: s.goal,
        branches: await Promise.all(branches.map(async (b) => ({ branch: b.branch, label: b.label, outline: b.outline, stages: await picture(await all(b.stages$)) }))),
      };
    }),
  );
}

describe('generate() stages', () => {
  let model: Model;
  let eos: number;

  beforeAll(async () => {
    model = await loadModel(tinyModel('qwen2', 'F32'), { kvSlots: 2048, contextLength: 512, maxStepTokens: 16 });
    eos = model.tokenizer.eosTokenIds[0];
  });
  afterAll(() => model.dispose());

  /** Runs `scenario` while a sampled request decodes alongside, and checks that request matches its solo run. */
  const withBystander = async (scenario: (bystanderDone: () => boolean) => Promise<void>) => {
    const opts: GenerateOptions = { temperature: 1, seed: 99, maxTokens: 60, ignoreEos: true };
    const solo = tokensOf(await all(model.events([3, 1, 4, 1, 5], opts)));
    let done = false;
    const concurrent = all(model.events([3, 1, 4, 1, 5], opts)).finally(() => (done = true));
    await scenario(() => done);
    const together = tokensOf(await concurrent);
    expect(together.map((t) => t.tokenId)).toEqual(solo.map((t) => t.tokenId));
    together.forEach((t, i) => expect(t.logprob).toBeCloseTo(solo[i].logprob, 4));
  };

  it('streams a nested transcript as sequential → map → sequential → done, branches and nested stages included', async () => {
    const options = { pickToken: forceScripts(model, NESTED, eos).pickToken, maxTokens: 300 };
    const stages = await all(model.generate(PROMPT, options));
    const goal = (a: string, b: string) => `<Goal><Outline>${a}</Outline><Outline>${b}</Outline></Goal>`;
    expect(await picture(stages)).toEqual([
      { sequential: '0', text: ` plan<Parallel>${goal('1: left', '2: right')}` },
      {
        map: '0',
        goal: goal('1: left', '2: right'),
        branches: [
          {
            branch: '0/0',
            label: '1',
            outline: 'left',
            stages: [
              { sequential: '0/0', text: `<Path>1: L<Parallel>${goal('1.1: a', '1.2: b')}` },
              {
                map: '0/0',
                goal: goal('1.1: a', '1.2: b'),
                branches: [
                  { branch: '0/0/0', label: '1.1', outline: 'a', stages: [{ sequential: '0/0/0', text: '<Path>1.1: x</Path>' }] },
                  { branch: '0/0/1', label: '1.2', outline: 'b', stages: [{ sequential: '0/0/1', text: '<Path>1.2: y y</Path>' }] },
                ],
              },
              { sequential: '0/0', text: '<Conclusion> ab</Conclusion></Parallel> l</Path>' },
            ],
          },
          { branch: '0/1', label: '2', outline: 'right', stages: [{ sequential: '0/1', text: '<Path>2: R r r</Path>' }] },
        ],
      },
      { sequential: '0', text: '<Conclusion> both</Conclusion></Parallel> end' },
      { done: 'stop' },
    ]);

    // Each branch's tokens$ is exactly the flat stream's tokens of that path and the paths nested in it.
    const events = await all(model.events(PROMPT, { ...options, pickToken: forceScripts(model, NESTED, eos).pickToken }));
    const flat = tokensOf(events);
    const map = stages[1];
    if (map.kind !== 'map') throw new Error('expected a map stage');
    for (const b of await all(map.branches$)) {
      const own = flat.filter((e) => e.branch === b.branch || e.branch.startsWith(`${b.branch}/`));
      expect(await all(b.tokens$)).toEqual(own);
    }
    const join = await all(map.join$);
    expect(join).toEqual([events.find((e): e is JoinEvent => e.type === 'join' && e.branch === '0')]);
    expect(join[0].paths.map((p) => [p.branch, p.truncated])).toEqual([['0/0', false], ['0/1', false]]);
    await expectPoolFree(model);
  });

  it('letting go of one branch truncates that path alone; the request finishes and frees the pool', async () => {
    const scripts = {
      '0': ' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline></Goal> uv</Conclusion></Parallel>',
      '0/0': `${' a'.repeat(40)}</Path>`,
      '0/1': ' b b b</Path>',
    };
    // The forced opener, then two of the path's own tokens.
    const keep = model.tokenizer.encode('<Path>1:', { addSpecialTokens: false }).length + 2;
    await withBystander(async (bystanderDone) => {
      let cutWhileBystanderRan = false;
      const joins: JoinEvent[] = [];
      const kept: TokenEvent[] = [];
      const stages = await all(model.generate(PROMPT, { pickToken: forceScripts(model, scripts, eos).pickToken, maxTokens: 300 }).pipe(
        onMap((m) => {
          m.join$.subscribe((j) => joins.push(j));
          m.branches$.subscribe((b) => {
            if (b.branch === '0/0') b.tokens$.pipe(take(keep)).subscribe({ next: (t) => kept.push(t), complete: () => (cutWhileBystanderRan = !bystanderDone()) });
            else b.tokens$.subscribe();
          });
        }),
      ));
      expect(kept).toHaveLength(keep);
      expect(cutWhileBystanderRan).toBe(true);
      expect(joins.map((j) => j.paths.map((p) => [p.branch, p.truncated]))).toEqual([[['0/0', true], ['0/1', false]]]);
      const done = stages.at(-1)!;
      expect(done.kind === 'done' && done.done.finishReason).toBe('stop');
      // The cut path was closed right after the kept tokens, so the transcript stays well formed.
      expect(done.kind === 'done' && done.done.text).toBe(
        ' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline></Goal><Path>1: a a</Path><Path>2: b b b</Path><Conclusion> uv</Conclusion></Parallel>',
      );
    });
    await expectPoolFree(model);
  });

  it('letting go of the whole request mid-fork frees the pool', async () => {
    const scripts = {
      '0': ' go<Parallel><Goal><Outline>1: u</Outline><Outline>2: v</Outline></Goal> uv',
      '0/0': ' a'.repeat(100),
      '0/1': ' b'.repeat(100),
    };
    await withBystander(async (bystanderDone) => {
      let request: Subscription | undefined;
      const cut = new Promise<{ sequences: number; bystanderRunning: boolean }>((resolve) => {
        const letGo = () => {
          resolve({ sequences: model.kvStats().sequences, bystanderRunning: !bystanderDone() });
          request!.unsubscribe();
        };
        const options = { pickToken: forceScripts(model, scripts, eos).pickToken, maxTokens: 300 };
        request = model.generate(PROMPT, options).pipe(onMap((m) => m.branches$.subscribe((b) => b.tokens$.pipe(take(5)).subscribe({ complete: letGo })))).subscribe();
      });
      // Mid-fork: the parent and both paths (and the bystander) hold KV when the request is let go.
      expect(await cut).toEqual({ sequences: 4, bystanderRunning: true });
      await settled(model);
      // Only the bystander's sequence may still be live.
      expect(model.kvStats().sequences).toBeLessThanOrEqual(1);
    });
    await expectPoolFree(model);
  });
});
