#!/usr/bin/env node
/**
 * The `multiverse` command. Exit codes: 0 success, 1 a failed request or model load (the message
 * says why), 2 a usage error, 130 when `serve` is stopped with SIGINT (0 with SIGTERM).
 */
import { ModelLoadError } from '../model/errors.js';
import { GenerationError } from '../engine/errors.js';
import { UsageError } from './args.js';
import { BENCH_USAGE, CURATE_USAGE, EVAL_USAGE, INSPECT_USAGE, PULL_USAGE, RUN_USAGE, SCORE_USAGE, SERVE_USAGE } from './usage.js';

const USAGE = `usage: multiverse <command> [options]

Commands:
  run     generate from a prompt (${RUN_USAGE.replace('usage: ', '')})
  score   logprob of every token of a transcript (${SCORE_USAGE.replace('usage: ', '')})
  eval    Multiverse model vs its AR twin on held-out problems (${EVAL_USAGE.replace('usage: ', '')})
  serve   HTTP + WebSocket server with the live viewer at / (${SERVE_USAGE.replace('usage: ', '')})
  inspect what a model folder, GGUF file or hub model holds (${INSPECT_USAGE.replace('usage: ', '')})
  bench   prefill and decode tokens/s on this machine (${BENCH_USAGE.replace('usage: ', '')})
  curate  turn sequential reasoning traces into Multiverse training data with an LLM (${CURATE_USAGE.replace('usage: ', '')})
  pull    download a model from the Hugging Face hub (${PULL_USAGE.replace('usage: ', '')})

Run \`multiverse <command> --help\` for a command's options.
Exit codes: 0 ok, 1 failure (the message says why), 2 usage error, 130 serve stopped by SIGINT.
`;

type Command = (argv: readonly string[]) => Promise<number>;

/** Each command's module, imported only when that command runs (usage.ts says why). */
const COMMANDS = new Map<string, () => Promise<Command>>([
  ['run', async () => (await import('./run.js')).runCommand],
  ['score', async () => (await import('./score.js')).scoreCommand],
  ['eval', async () => (await import('./eval.js')).evalCommand],
  ['serve', async () => (await import('./serve.js')).serveCommand],
  ['inspect', async () => (await import('./inspect.js')).inspectCommand],
  ['bench', async () => (await import('./bench.js')).benchCommand],
  ['curate', async () => (await import('./curate.js')).curateCommand],
  ['pull', async () => (await import('./pull.js')).pullCommand],
]);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const load = COMMANDS.get(command);
  if (!load) throw new UsageError(`unknown command '${command}'\n\n${USAGE}`);
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`multiverse: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof ModelLoadError || err instanceof GenerationError) {
      process.stderr.write(`multiverse: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`multiverse: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
