/**
 * `npm run bench:weights`: what the load-time NaN/Inf scan (loadModel's checkWeights) costs, on the
 * shipped model and the generated ~150M-parameter f32 checkpoint of `npm run bench`.
 *
 *   npm run bench:weights
 *
 * Prints, per model: the weight bytes, the scan alone (median of 5, page cache warm), and loadModel
 * with and without the scan (median of 5 each, alternating).
 */
import { checkWeightsFinite } from '../src/model/check-weights.js';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { loadModel } from '../src/facade/load-model.js';
import { loadNative } from '../src/native/binding.js';
import { BENCH_150M } from '../src/testkit/random-checkpoint.js';
import { ensureModel } from './bench-model.js';
import { machineLine } from './machine.js';
import { formatTable } from './table.js';

const REPS = 5;

async function millis(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function measure(dir: string): Promise<string[]> {
  const { tensors } = await openCheckpoint(dir);
  const bytes = tensors.reduce((n, t) => n + t.byteLength, 0);
  const native = loadNative();
  await checkWeightsFinite(native, tensors); // warms the page cache
  const scan: number[] = [];
  const withScan: number[] = [];
  const without: number[] = [];
  const load = async (checkWeights: boolean) => (await loadModel(dir, { checkWeights })).dispose();
  for (let i = 0; i < REPS; i++) {
    scan.push(await millis(() => checkWeightsFinite(native, tensors)));
    withScan.push(await millis(() => load(true)));
    without.push(await millis(() => load(false)));
  }
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const gbps = bytes / 1e9 / (median(scan) / 1000);
  return [dir, `${(bytes / 2 ** 20).toFixed(1)} MiB`, `${ms(median(scan))} (${gbps.toFixed(1)} GB/s)`, ms(median(withScan)), ms(median(without))];
}

async function main(): Promise<void> {
  console.log(`machine: ${machineLine()}\n`);
  const rows = [await measure('models/multiverse-arith'), await measure(ensureModel('bench-150m', BENCH_150M))];
  console.log(formatTable(['model', 'weights', 'scan alone', 'loadModel', 'loadModel, checkWeights: false'], rows));
}

await main();
