/**
 * `npm run bench:prompt`: how long a large prompt holds the event loop, on the shipped model.
 *
 *   npm run bench:prompt
 *
 * Measures the longest gap between 5 ms timer ticks (the event loop's worst stall) while: a 1 MB
 * text is encoded in one piece (what every prompt got before) and with encodeYielding; and while
 * four 1 MB prompts are POSTed to /v1/completions at once (each refused with a 400), together with
 * the time a concurrent GET /health takes.
 */
import { loadModel } from '../src/facade/load-model.js';
import { createServer } from '../src/server/server.js';
import { machineLine } from './machine.js';
import { formatTable } from './table.js';

const MODEL = 'models/multiverse-arith';
const TEXT = 'Compute 12*3 + 4*5 and tell me the answer, please. '.repeat(20_000).slice(0, 1_000_000);

/** Runs `work`, returning its wall time and the longest gap between 5 ms timer ticks meanwhile. */
async function stall<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  const start = performance.now();
  const result = await work();
  const ms = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 20)); // let a stalled tick land
  clearInterval(timer);
  return { result, ms, maxGapMs };
}

async function main(): Promise<void> {
  console.log(`machine: ${machineLine()}\nmodel: ${MODEL}\n`);
  const model = await loadModel(MODEL);
  const server = createServer(model, { port: 0 });
  const { url } = await server.listen();
  const rows: string[][] = [];
  const row = (what: string, r: { ms: number; maxGapMs: number }, note = '') =>
    rows.push([what, `${r.ms.toFixed(0)} ms`, `${r.maxGapMs.toFixed(0)} ms`, note]);

  row('encode 1 MB in one piece', await stall(async () => model.tokenizer.encode(TEXT)));
  row('encodeYielding 1 MB', await stall(() => model.tokenizer.encodeYielding(TEXT)));
  const body = JSON.stringify({ model: 'multiverse-arith', prompt: TEXT, max_tokens: 4 });
  const post = () => fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.status);
  const health = async () => {
    const start = performance.now();
    await fetch(`${url}/health`);
    return performance.now() - start;
  };
  const four = await stall(() => Promise.all([health(), post(), post(), post(), post()]));
  const [healthMs, ...statuses] = four.result;
  row('4 × 1 MB prompts over HTTP', four, `statuses ${statuses.join(', ')}; /health answered in ${healthMs.toFixed(0)} ms`);

  await server.close();
  await model.dispose();
  console.log(formatTable(['work', 'wall time', 'longest event-loop stall', ''], rows));
}

await main();
