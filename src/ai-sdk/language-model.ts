/**
 * A multiverse-rx model (embedded or remote) as a Vercel AI SDK language model (specification v3),
 * for `generateText` and `streamText`. Text streams in transcript order: a fork's paths decode side
 * by side, but their deltas are released path after path, as the merged transcript reads. The
 * branch tree, # parallel and the critical path travel in `providerMetadata.multiverse`.
 */
import type {
  JSONObject,
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3FinishReason,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
} from '@ai-sdk/provider';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { Completion } from '../rx/completion.js';
import type { BranchNode } from '../rx/branch-tree.js';
import { ROOT_BRANCH } from '../engine/branch-path.js';
import { BranchTree } from '../rx/branch-tree.js';
import type { DoneEvent } from '../rx/events.js';
import type { GenerationApi } from '../rx/generation-api.js';
import { MergeOrder } from '../rx/merge-order.js';
import { generateOptions } from './call-options.js';
import { chatMessages } from './prompt.js';

export interface MultiverseProviderSettings {
  /** The model id the AI SDK reports. Default 'multiverse'. */
  modelId?: string;
  /** Generation options applied to every call (a call's own settings and `providerOptions.multiverse` win). */
  defaults?: GenerateOptions;
}

/** The text part's id: one text part per response. */
const TEXT_ID = '0';

export class MultiverseLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'multiverse-rx';
  readonly modelId: string;
  readonly supportedUrls = {};

  constructor(
    private readonly backend: GenerationApi,
    private readonly settings: MultiverseProviderSettings = {},
  ) {
    this.modelId = settings.modelId ?? 'multiverse';
  }

  async doGenerate(call: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    const { options, warnings } = generateOptions(call, this.settings.defaults ?? {});
    const c: Completion = await this.backend.complete(chatMessages(call.prompt), options);
    return {
      content: [{ type: 'text', text: c.text }],
      finishReason: finishReason(c.finishReason),
      usage: usage(c.usage),
      providerMetadata: { multiverse: metadata(c.tree, c) },
      warnings,
    };
  }

  async doStream(call: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const { options, warnings } = generateOptions(call, this.settings.defaults ?? {});
    const events = this.backend.events(chatMessages(call.prompt), options);
    let stop: (() => void) | undefined;
    const stream = new ReadableStream<LanguageModelV3StreamPart>({
      start: (controller) => {
        controller.enqueue({ type: 'stream-start', warnings });
        controller.enqueue({ type: 'response-metadata', modelId: this.modelId });
        controller.enqueue({ type: 'text-start', id: TEXT_ID });
        const delta = (text: string) => {
          if (text) controller.enqueue({ type: 'text-delta', id: TEXT_ID, delta: text });
        };
        const order = new MergeOrder<string>(ROOT_BRANCH, delta);
        const tree = new BranchTree(ROOT_BRANCH);
        const finish = (done: DoneEvent) => {
          order.end();
          delta(done.tail);
          controller.enqueue({ type: 'text-end', id: TEXT_ID });
          controller.enqueue({
            type: 'finish',
            finishReason: finishReason(done.finishReason),
            usage: usage(done.usage),
            providerMetadata: { multiverse: metadata(tree.build(done.tail), done) },
          });
          controller.close();
        };
        const subscription = events.subscribe({
          next: (e) => {
            if (e.type === 'done') return finish(e);
            tree.apply(e);
            if (e.type === 'token') order.push(e.branch, e.text);
          },
          error: (error: unknown) => {
            controller.enqueue({ type: 'error', error });
            controller.close();
          },
        });
        stop = () => subscription.unsubscribe();
      },
      // The consumer let go (or the AI SDK aborted): cancel the request and free its KV.
      cancel: () => stop?.(),
    });
    return { stream };
  }
}

function finishReason(reason: DoneEvent['finishReason']): LanguageModelV3FinishReason {
  return { unified: reason, raw: reason };
}

function usage(u: DoneEvent['usage']): LanguageModelV3Usage {
  return {
    inputTokens: { total: u.promptTokens, noCache: u.promptTokens, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: u.completionTokens, text: u.completionTokens, reasoning: undefined },
    raw: { ...u },
  };
}

/** What the AI SDK has no field for: the branch tree and the parallelism of the run. */
function metadata(tree: BranchNode, run: Pick<Completion, 'stats' | 'usage' | 'seed'>): JSONObject {
  return {
    tree: JSON.parse(JSON.stringify(tree)) as JSONObject,
    forks: run.stats.forks,
    parallelism: run.stats.parallelism,
    criticalPathTokens: run.usage.criticalPathTokens,
    seed: run.seed,
  };
}
