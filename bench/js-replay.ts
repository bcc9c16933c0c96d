/**
 * `npm run bench:js`: the main thread's own work per generated token, without the native step.
 *
 *   npm run bench:js                               # this checkout, Multiverse on and off
 *   npm run bench:js -- --against /path/to/other   # and another checkout (its dist/ built), taking turns
 *
 * Greedy answers to 8 arithmetic problems, one request in flight, are generated once for real
 * while every native step's logits are recorded; then the same runs are replayed with step()
 * answering from the recording (a macrotask later, as the addon's promise settles), so a run's wall
 * time is the scheduler, step loop, sampling, detokenizing, events and Observable chain alone. Each
 * replay must give the recorded text. Checkouts take turns, and the fastest of the turns is kept:
 * the figure other jobs on the machine disturbed least (the end-to-end split of bench:tokens moves
 * by ±20% on a busy machine).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom } from 'rxjs';
import type { loadModel as LoadModel } from '../src/facade/load-model.js';
import type { shippedModelDir as ShippedModelDir } from '../src/facade/shipped-models.js';
import type { promptText as PromptText } from '../src/tasks/arith/export.js';
import type { testProblems as TestProblems } from '../src/tasks/arith/evaluate.js';
import type { DoneEvent } from '../src/rx/events.js';
import type { StepItem } from '../src/native/binding.js';
import { machineLine } from './machine.js';
import { formatTable, median } from './table.js';

const PROBLEMS = 8;
const TURNS = 80;
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Replay {
  name: string;
  tokens: number;
  steps: number;
  run(): Promise<number>;
  dispose(): Promise<void>;
}

/** A checkout's model with its step recorded once, then answered from the recording. */
async function replayOf(root: string, multiverse: boolean): Promise<Replay> {
  const load = async <T>(file: string, name: string) => ((await import(pathToFileURL(path.join(root, 'dist', file)).href)) as Record<string, T>)[name];
  const loadModel = await load<typeof LoadModel>('src/facade/load-model.js', 'loadModel');
  const shippedModelDir = await load<typeof ShippedModelDir>('src/facade/shipped-models.js', 'shippedModelDir');
  const promptText = await load<typeof PromptText>('src/tasks/arith/export.js', 'promptText');
  const testProblems = await load<typeof TestProblems>('src/tasks/arith/evaluate.js', 'testProblems');
  const model = await loadModel(shippedModelDir('multiverse-arith'));
  const prompts = testProblems(PROBLEMS).map((p) => promptText(p, model.tokenizer));
  const options = { raw: true, temperature: 0, maxTokens: 512, multiverse: { enabled: multiverse } };
  const generate = async () => {
    let text = '';
    let tokens = 0;
    for (const prompt of prompts) {
      const done = (await lastValueFrom(model.events(prompt, options))) as DoneEvent;
      text += `${done.text}\n`;
      tokens += done.usage.completionTokens;
    }
    return { text, tokens };
  };
  const engine = model.engine;
  const step = engine.step.bind(engine);
  const recorded: Float32Array[] = [];
  let replaying = -1;
  // The addon's methods are read-only on the prototype; an own property shadows it.
  Object.defineProperty(engine, 'step', {
    configurable: true,
    value: (items: StepItem[]) => {
      if (replaying < 0) return step(items).then((out) => (recorded.push(out.slice()), out));
      const out = recorded[replaying++];
      return new Promise<Float32Array>((resolve) => setImmediate(() => resolve(out)));
    },
  });
  const truth = await generate();
  return {
    name: `${path.basename(path.resolve(root))}, Multiverse ${multiverse ? 'on' : 'off'}`,
    tokens: truth.tokens,
    steps: recorded.length,
    async run() {
      replaying = 0;
      const t0 = performance.now();
      const { text } = await generate();
      const ms = performance.now() - t0;
      if (text !== truth.text || replaying !== recorded.length) throw new Error(`${root}: the replay left the recorded run`);
      return ms;
    },
    dispose: () => model.dispose(),
  };
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--against');
  const roots = [process.cwd(), ...(at > 0 ? [process.argv[at + 1]] : [])];
  console.log(`machine: ${machineLine()}`);
  const rows: string[][] = [];
  for (const multiverse of [false, true]) {
    const replays: Replay[] = [];
    for (const root of roots) replays.push(await replayOf(root, multiverse));
    const times: number[][] = replays.map(() => []);
    for (const r of replays) await r.run(); // warm-up
    log(`Multiverse ${multiverse ? 'on' : 'off'}: ${TURNS} turns ...`);
    for (let turn = 0; turn < TURNS; turn++) for (const [i, r] of replays.entries()) times[i].push(await r.run());
    for (const [i, r] of replays.entries()) {
      const fastest = Math.min(...times[i]);
      rows.push([r.name, `${r.tokens}`, `${r.steps}`, ((fastest * 1000) / r.tokens).toFixed(1), ((fastest * 1000) / r.steps).toFixed(1), ((median(times[i]) * 1000) / r.tokens).toFixed(1)]);
      await r.dispose();
    }
  }
  console.log(`\nmain-thread work with the native step replayed (${PROBLEMS} problems, greedy, one in flight; fastest and median of ${TURNS} turns)`);
  console.log(formatTable(['checkout', 'tokens', 'steps', 'µs/token fastest', 'µs/step fastest', 'µs/token median'], rows));
}

await main();
