/**
 * Each command's synopsis, apart from the command's module: `multiverse --help` prints them all,
 * and main.ts loads only the module of the command it runs (loading every command and what each
 * imports cost every invocation about 0.4 s of Node's module loading).
 */

/** The environment variable `serve` reads the api key from when no flag gives it. */
export const API_KEY_ENV = 'MULTIVERSE_API_KEY';

export const RUN_USAGE =
  'usage: multiverse run [--model DIR|FILE.gguf] [PROMPT | --tokens 1,2,3] [--no-multiverse] [options]';

export const SCORE_USAGE =
  'usage: multiverse score [--model DIR|FILE.gguf] (TEXT | --tokens 1,2,3) [--top-logprobs K] [--raw] [--no-multiverse] [--json]';

export const EVAL_USAGE =
  'usage: multiverse eval [--task arith|countdown] [--mv DIR] [--ar DIR] [--problems N] [--budgets 48,64,…] [--budget-problems N] [--concurrency N] [--out FILE] [--json]';

export const SERVE_USAGE = `usage: multiverse serve [--model DIR] [--host 127.0.0.1] [--port 8080] [--api-key-file FILE | --api-key KEY] [--allow-origin ORIGIN ...]
       [--drain-timeout 10] [--max-queued 1024]
The api key may also come from the ${API_KEY_ENV} environment variable.`;

export const INSPECT_USAGE = 'usage: multiverse inspect MODEL [--json]';

export const BENCH_USAGE =
  'usage: multiverse bench --model DIR|FILE.gguf [--prompt-tokens 512] [--sequences 1,4,16] [--context 64[,4096]] [--passes 3] [--threads N] [--json]';

export const CURATE_USAGE =
  'usage: multiverse curate --in traces.jsonl --out multiverse.jsonl --endpoint URL --model NAME [--api-key-env VAR] [--concurrency N] [--resume]';

export const PULL_USAGE = 'usage: multiverse pull org/name[@revision]';
