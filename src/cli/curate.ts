/**
 * `multiverse curate`: converts sequential reasoning traces into Multiverse training data with an
 * LLM behind any OpenAI-compatible chat endpoint (src/curator/, docs/curator.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadTokenizer } from '../model/tokenizer.js';
import { ChatClient } from '../curator/chat-client.js';
import { CurateError } from '../curator/errors.js';
import { loadPrompts } from '../curator/prompts.js';
import { formatReport } from '../curator/report.js';
import { curate, readOutputs } from '../curator/run.js';
import { parseTraces, TraceFormatError } from '../curator/trace.js';
import { writeTrainingData } from '../curator/training-data.js';
import { numberOption, UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { packageRoot, shippedModelDir } from '../facade/shipped-models.js';
import { parseCommand } from './model-input.js';
import { progressBar } from './progress.js';
import { CURATE_USAGE } from './usage.js';

const CURATE_SPEC: Record<string, OptionSpec> = {
  in: { kind: 'string', help: 'input traces, JSONL: {id, question, reasoning, answer} per line' },
  out: { kind: 'string', help: 'training records, JSONL (rejections go to OUT.rejected.jsonl)' },
  endpoint: { kind: 'string', help: 'OpenAI-compatible API root, /v1 included' },
  model: { kind: 'string', help: 'the model name the endpoint serves' },
  'api-key-env': { kind: 'string', help: 'environment variable holding the api key (none is sent without it)' },
  concurrency: { kind: 'string', help: 'traces in flight at once (default 4)' },
  resume: { kind: 'boolean', help: 'skip the traces already in OUT and its rejections, and append' },
  tokenizer: { kind: 'string', help: 'model folder whose tokenizer the records use (default: the embedded model)' },
  'data-dir': { kind: 'string', help: 'also write a train/ data folder (meta.json, tokenizer, multiverse/ and sequential/ splits)' },
  report: { kind: 'string', help: 'also write the report as JSON to this file' },
  prompts: { kind: 'string', help: 'folder of the stage prompts (default: the packaged prompts/curator)' },
};

function required(options: ParsedArgs['options'], name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required\n${CURATE_USAGE}`);
  return value;
}

/** The key named by --api-key-env; none by default, so no key ever reaches an endpoint it was not meant for. */
function apiKey(options: ParsedArgs['options']): string | undefined {
  const variable = options['api-key-env'];
  if (typeof variable !== 'string') return undefined;
  const key = process.env[variable];
  if (key === undefined || key === '') throw new UsageError(`--api-key-env ${variable}: that environment variable is not set`);
  return key;
}

export async function curateCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, CURATE_USAGE, CURATE_SPEC, {});
  if (!args) return 0;
  const { options } = args;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'\n${CURATE_USAGE}`);
  const input = required(options, 'in');
  const out = required(options, 'out');
  const endpoint = required(options, 'endpoint');
  const model = required(options, 'model');
  const concurrency = numberOption(args, 'concurrency', true) ?? 4;
  if (concurrency < 1) throw new UsageError(`--concurrency must be at least 1, got ${concurrency}`);
  const key = apiKey(options);
  const tokenizerDir = typeof options.tokenizer === 'string' ? options.tokenizer : shippedModelDir();

  try {
    const traces = parseTraces(fs.readFileSync(input, 'utf8'));
    const tokenizer = await loadTokenizer(tokenizerDir);
    const prompts = loadPrompts(typeof options.prompts === 'string' ? options.prompts : path.join(packageRoot(), 'prompts', 'curator'));
    const bar = progressBar('curating');
    const report = await curate({
      traces,
      out,
      resume: options.resume === true,
      chat: new ChatClient({ endpoint, model, apiKey: key }),
      prompts,
      tokenizer,
      concurrency,
      onProgress: (done, total) => bar.update(done, total),
    }).finally(() => bar.end());
    process.stdout.write(formatReport(report));
    if (typeof options.report === 'string') fs.writeFileSync(options.report, `${JSON.stringify(report, null, 2)}\n`);
    if (typeof options['data-dir'] === 'string') writeTrainingData(options['data-dir'], readOutputs(out).records, traces, tokenizer, tokenizerDir);
    return 0;
  } catch (err) {
    if (err instanceof CurateError) {
      process.stderr.write(`multiverse: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof TraceFormatError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`multiverse: ${input}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
