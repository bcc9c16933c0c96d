#!/usr/bin/env node
/**
 * The `multiverse` command. Exit codes: 0 success, 1 a failed request or model load (the message
 * says why), 2 a usage error, 130 when `serve` is stopped with SIGINT (0 with SIGTERM).
 */
import { ModelLoadError } from '../model/errors.js';
import { GenerationError } from '../engine/errors.js';
import { UsageError } from './args.js';
import { RUN_USAGE, runCommand } from './run.js';
import { SCORE_USAGE, scoreCommand } from './score.js';
import { EVAL_USAGE, evalCommand } from './eval.js';
import { INSPECT_USAGE, inspectCommand } from './inspect.js';
import { BENCH_USAGE, benchCommand } from './bench.js';
import { SERVE_USAGE, serveCommand } from './serve.js';
import { CURATE_USAGE, curateCommand } from './curate.js';
import { PULL_USAGE, pullCommand } from './pull.js';

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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'run') return runCommand(rest);
  if (command === 'score') return scoreCommand(rest);
  if (command === 'eval') return evalCommand(rest);
  if (command === 'serve') return serveCommand(rest);
  if (command === 'inspect') return inspectCommand(rest);
  if (command === 'curate') return curateCommand(rest);
  if (command === 'pull') return pullCommand(rest);
  if (command === 'bench') return benchCommand(rest);
  throw new UsageError(`unknown command '${command}'\n\n${USAGE}`);
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
