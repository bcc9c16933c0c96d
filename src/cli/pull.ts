/**
 * `multiverse pull org/name[@revision]`: downloads a hub model into the Hugging Face cache (or
 * brings a cached one up to date with its branch) and prints its snapshot folder, which
 * `--model` and `loadModel` then use without asking the hub again.
 */
import { parseHubId, type HubId } from '../hub/hub-id.js';
import { UsageError } from './args.js';
import { parseCommand } from './model-input.js';
import { PULL_USAGE } from './usage.js';

const HELP = `${PULL_USAGE}

Downloads config.json, tokenizer files and safetensors weights from the Hugging Face hub into its
cache (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub; the layout Python's
huggingface_hub uses, so either reuses the other's downloads), resuming partial files and checking
every file's hash. Prints the snapshot folder on stdout. Also read: HF_ENDPOINT, HF_TOKEN (gated
and private repos), HF_HUB_OFFLINE (cache only), HF_HUB_DISABLE_PROGRESS_BARS.`;

export async function pullCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, HELP, {}, {});
  if (!args) return 0;
  if (args.positionals.length !== 1) throw new UsageError(`give one hub model\n${PULL_USAGE}`);
  const source = args.positionals[0];
  const id = hubIdArgument(source.startsWith('hf:') ? source : `hf:${source}`);
  // Imported on demand, so the other commands never load the hub client.
  const { hubSnapshot } = await import('../hub/hub-snapshot.js');
  process.stdout.write(`${await hubSnapshot(id, {}, 'check-hub')}\n`);
  return 0;
}

/** A malformed id is a usage error (exit 2), not a failed download. */
function hubIdArgument(source: string): HubId {
  try {
    return parseHubId(source)!;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${PULL_USAGE}`);
  }
}
