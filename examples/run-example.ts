/**
 * The examples' shared entry point: when the example file is run directly (not imported by the
 * tests), loads the model folder named on the command line — by default the shipped Multiverse
 * model — and hands it to the example. A failure prints one line and exits 1.
 */
import { fileURLToPath } from 'node:url';
import { loadModel, type Model } from '../src/index.js';

/** Runs `body` on the model in `process.argv[2]` (default: the shipped model) if `moduleUrl` is the script node was started with. */
export async function runExample(moduleUrl: string, body: (model: Model) => Promise<void>): Promise<void> {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  let model: Model | undefined;
  try {
    model = await loadModel(process.argv[2]);
    await body(model);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await model?.dispose();
  }
}
