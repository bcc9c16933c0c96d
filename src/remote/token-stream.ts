/**
 * The streamed requests of one remote run. Each is read as runs of tokens, each run with the text
 * it completes; a token that arrives without text is held until text follows, because the last of
 * them may carry a stop string the server dropped from the text: the executor writes the tag back
 * onto it. The requests in flight are kept by the branch each decodes, so that a halt, a shared
 * limit or a cancelled branch aborts exactly the requests concerned (the server then stops them
 * and frees what they held).
 */
import type { CompletionChunk, CompletionRequest, CompletionsClient, WireToken } from './completions-client.js';

/** A token whose id and logprob the server did not report. */
export const UNKNOWN_TOKEN: WireToken = { tokenId: -1, logprob: NaN };

export interface StreamEnd {
  /** The chunk that carried the finish reason; undefined when the stream ended before it. */
  finish?: CompletionChunk;
  usage?: CompletionChunk['usage'];
  /** Tokens that arrived without text after the last text. */
  held: WireToken[];
  /** The stream was let go through `controller` (by us, not by the server). */
  aborted: boolean;
}

export interface TokenSink {
  /** The first chunk arrived. */
  firstChunk(): void;
  /** Tokens, the last of which completes `text` (the others show ''). */
  tokens(tokens: WireToken[], text: string): void;
}

/**
 * Streams `request`, handing runs of tokens to `sink` as they come. Aborting `controller` ends it
 * early; when it ends, `controller` is aborted anyway so that a stream we left stops on the server.
 * @throws GenerationError from the client.
 */
export async function streamTokens(client: CompletionsClient, request: CompletionRequest, controller: AbortController, sink: TokenSink): Promise<StreamEnd> {
  const end: StreamEnd = { held: [], aborted: false };
  let first = true;
  try {
    for await (const chunk of client.stream(request, controller.signal)) {
      if (first) sink.firstChunk();
      first = false;
      const tokens = chunk.tokens ?? (chunk.text ? [UNKNOWN_TOKEN] : []);
      if (chunk.text === '') end.held.push(...tokens);
      else {
        sink.tokens([...end.held, ...tokens], chunk.text);
        end.held = [];
      }
      end.finish = chunk.finishReason ? chunk : end.finish;
      end.usage = chunk.usage ?? end.usage;
      if (controller.signal.aborted) break;
    }
  } finally {
    end.aborted = controller.signal.aborted;
    controller.abort();
  }
  return end;
}

export class InFlight {
  private readonly open = new Map<AbortController, string>();
  private readonly cancelled = new Set<string>();

  /** The controller of a new request of `branch`; end() it when the request is over. */
  start(branch: string): AbortController {
    const controller = new AbortController();
    this.open.set(controller, branch);
    return controller;
  }

  end(controller: AbortController): void {
    this.open.delete(controller);
  }

  abortAll(): void {
    for (const controller of this.open.keys()) controller.abort();
  }

  /** Aborts the requests of `branch` and of every branch nested in it, now and from now on. */
  cancelBranch(branch: string): void {
    this.cancelled.add(branch);
    for (const [controller, b] of this.open) if (within(b, branch)) controller.abort();
  }

  /** True when `branch` or one of its ancestors was cancelled. */
  isCancelled(branch: string): boolean {
    return [...this.cancelled].some((b) => within(branch, b));
  }
}

/** `branch` is `ancestor` or nested in it. */
function within(branch: string, ancestor: string): boolean {
  return branch === ancestor || branch.startsWith(`${ancestor}/`);
}
