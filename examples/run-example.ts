/**
 * The examples' shared entry point: when the example file is run directly (not imported by the
 * tests), loads the model folder named on the command line and hands it to the example.
 */
import { fileURLToPath } from 'node:url';
import { loadModel, type Model } from '../src/index.js';

/**
 * Runs `body` on the model in `process.argv[2]` if `moduleUrl` is the script node was started with.
 * The default, `.cache/default-model`, is the random-weight test model the operators' doc examples
 * were logged with: `npm run make-test-model -- .cache/default-model` writes it.
 */
export async function runExample(moduleUrl: string, body: (model: Model) => Promise<void>): Promise<void> {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  const model = await loadModel(process.argv[2] ?? '.cache/default-model');
  try {
    await body(model);
  } finally {
    await model.dispose();
  }
}
