/**
 * `multiverse inspect MODEL`: what a checkpoint folder or GGUF file holds, from its JSON files and
 * safetensors headers or the GGUF header alone (no weights are read): architecture and sizes,
 * parameter count, dtypes, the tensors the engine loads, special tokens, the ids of the 12
 * Multiverse tags, the chat template.
 */
import path from 'node:path';
import type { Checkpoint } from '../model/checkpoint.js';
import { eosTokenIds } from '../model/eos.js';
import type { ModelConfig } from '../model/config.js';
import type { NativeTensorRef } from '../native/binding.js';
import { openModel } from '../model/open-model.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { MULTIVERSE_TAGS, type MultiverseTagText } from '../multiverse/tags.js';
import { UsageError } from './args.js';
import { parseCommand } from './model-input.js';
import { INSPECT_USAGE } from './usage.js';

type TensorDtype = NativeTensorRef['dtype'];

/** What `inspect --json` prints. */
export interface ModelReport {
  dir: string;
  config: ModelConfig;
  parameterCount: number;
  /** The dtype holding the most parameters. */
  weightDtype: TensorDtype;
  dtypes: Partial<Record<TensorDtype, { tensors: number; parameters: number }>>;
  /** The tensors the engine loads, in load order; `file` relative to the folder. */
  tensors: { name: string; shape: number[]; dtype: TensorDtype; file: string }[];
  /** Named special tokens (`eos_token`, …) with their ids. */
  specialTokens: Record<string, { text: string; id: number | null }>;
  /** End-of-sequence ids generation stops at: the tokenizer's eos token and generation_config.json's (else config.json's) ids. */
  eosTokenIds: number[];
  /** Each tag's token id; null when the tokenizer lacks it (the model then writes tags as text). */
  multiverseTags: Record<MultiverseTagText, number | null>;
  chatTemplate: string | null;
}

export async function inspectCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, INSPECT_USAGE, { json: { kind: 'boolean', help: 'print the report as one JSON object' } }, {});
  if (!args) return 0;
  if (args.positionals.length !== 1) throw new UsageError(`give one model folder, GGUF file or hub id\n${INSPECT_USAGE}`);
  const { checkpoint, tokenizer } = await openModel(args.positionals[0]);
  const report = modelReport(checkpoint, tokenizer);
  process.stdout.write(args.options.json ? `${JSON.stringify(report, null, 2)}\n` : text(report));
  return 0;
}

function modelReport(checkpoint: Checkpoint, tokenizer: Tokenizer): ModelReport {
  const dtypes: ModelReport['dtypes'] = {};
  for (const t of checkpoint.tensors) {
    const d = (dtypes[t.dtype] ??= { tensors: 0, parameters: 0 });
    d.tensors++;
    d.parameters += t.shape.reduce((a, b) => a * b, 1);
  }
  return {
    dir: checkpoint.dir,
    config: checkpoint.config,
    parameterCount: checkpoint.parameterCount,
    weightDtype: checkpoint.weightDtype,
    dtypes,
    tensors: checkpoint.tensors.map(({ name, shape, dtype, file }) => ({ name, shape, dtype, file: file === checkpoint.dir ? path.basename(file) : path.relative(checkpoint.dir, file) })),
    specialTokens: Object.fromEntries(Object.entries(tokenizer.specialTokens).map(([key, text]) => [key, { text, id: tokenizer.tokenId(text) ?? null }])),
    eosTokenIds: eosTokenIds(checkpoint, tokenizer),
    multiverseTags: Object.fromEntries(MULTIVERSE_TAGS.map((tag) => [tag, tokenizer.tokenId(tag) ?? null])) as ModelReport['multiverseTags'],
    chatTemplate: tokenizer.chatTemplate ?? null,
  };
}

function text(r: ModelReport): string {
  const c = r.config;
  const n = (x: number) => x.toLocaleString('en-US');
  const tags = MULTIVERSE_TAGS.map((tag) => [tag, String(r.multiverseTags[tag] ?? 'text')]);
  const sections = [
    table([
      ['model', r.dir],
      ['architecture', `${c.architecture}: ${c.numLayers} layers, hidden ${c.hiddenSize}, intermediate ${c.intermediateSize}, ${c.numHeads} heads (${c.numKvHeads} kv, head dim ${c.headDim})`],
      ['', `vocab ${n(c.vocabSize)}, context ${n(c.maxPositionEmbeddings)}, rope theta ${c.ropeTheta}, q/k/v bias ${yesNo(c.attentionBias)}, tied embeddings ${yesNo(c.tieWordEmbeddings)}`],
      ['parameters', `${n(r.parameterCount)} (${(r.parameterCount / 1e6).toFixed(2)}M)`],
      ...Object.entries(r.dtypes).map(([dtype, d], i) => [i === 0 ? 'dtypes' : '', `${dtype}: ${n(d.parameters)} parameters in ${d.tensors} tensors`]),
      ['eos ids', r.eosTokenIds.join(', ') || 'none'],
    ]),
    section('special tokens', Object.keys(r.specialTokens).length ? table(Object.entries(r.specialTokens).map(([key, t]) => [key, t.text, t.id === null ? '' : `id ${t.id}`])) : 'none'),
    section('Multiverse tags (token ids; "text" when not an added token)', table(pairs(tags))),
    section(`tensors (${r.tensors.length})`, table([['name', 'shape', 'dtype'], ...r.tensors.map((t) => [t.name, `[${t.shape.join(', ')}]`, t.dtype])])),
    section('chat template', r.chatTemplate ?? 'none'),
  ];
  return `${sections.join('\n\n')}\n`;
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function section(title: string, body: string): string {
  return `${title}:\n${body.replace(/^/gm, '  ')}`;
}

/** Open and close tag side by side: six rows of two. */
function pairs(rows: string[][]): string[][] {
  return rows.flatMap((row, i) => (i % 2 === 0 ? [[...row, ...(rows[i + 1] ?? [])]] : []));
}

/** Rows with each column padded to its widest cell. */
function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}
