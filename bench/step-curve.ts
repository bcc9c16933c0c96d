/**
 * `npm run bench:steps`: what a decode step costs against the rows it carries, on any model, thread
 * count and context (`model.stepCost()` measures the same at a fixed 32-token context and caches it).
 *
 *   npm run bench:steps                                   # the shipped arithmetic model, ctx 200
 *   npm run bench:steps -- --threads 1 --context 32 --rows 1,2,3,4 --model DIR_OR_GGUF
 *
 * Each figure is the fastest of the timed steps, row counts taking turns (see measureStepCost).
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/facade/load-model.js';
import { shippedModelDir } from '../src/facade/shipped-models.js';
import { measureStepCost, stepCostTarget } from '../src/engine/step-cost.js';
import { loadAverage, machineLine } from './machine.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    threads: { type: 'string' },
    context: { type: 'string', default: '200' },
    rows: { type: 'string', default: '1,2,3,4,6,8,12,16' },
    repeats: { type: 'string', default: '30' },
  },
});

async function main(): Promise<void> {
  const rows = values.rows.split(',').map(Number);
  const model = await loadModel(values.model ?? shippedModelDir('multiverse-arith'), {
    kvSlots: 16384,
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  const target = stepCostTarget(model);
  const cost = await measureStepCost(target, { rows, contextTokens: Number(values.context), repeats: Number(values.repeats), budgetMs: Infinity });
  await model.dispose();
  process.stdout.write(`${machineLine()}; ${loadAverage()}\n${cost.backend}, ${values.threads ?? 'all'} threads, context ${cost.contextTokens}: ms per step by rows\n`);
  process.stdout.write(`${cost.rows.map((r, i) => `${r}: ${cost.ms[i].toFixed(3)}`).join('  ')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
