/**
 * multiverse-rx: LLM generation that forks into parallel branches and merges back, as an RxJS
 * pipeline over a native fork/merge KV engine. The server, the WebSocket client and the wire
 * protocol have their own entry points: `multiverse-rx/server`, `multiverse-rx/client`,
 * `multiverse-rx/protocol`.
 *
 * @packageDocumentation
 */
export { loadModel, type LoadModelOptions } from './facade/load-model.js';
export { shippedModelDir, type ShippedModel } from './facade/shipped-models.js';
export { Model, type ModelInfo } from './facade/model.js';
export { ModelLoadError, type ModelErrorCode } from './model/errors.js';
export type { HubOptions } from './hub/settings.js';
export type { ModelConfig, Architecture, WeightDtype } from './model/config.js';
export type { ChatMessage, Tokenizer } from './model/tokenizer.js';
export { GenerationError, type GenerationErrorCode } from './engine/errors.js';
export type { GenerateOptions } from './engine/generate-options.js';
export type { GenerateInput } from './rx/generate.js';
export type { Completion } from './rx/completion.js';
export type { ChatSession, ChatOptions } from './rx/chat.js';
export { GenerationApi } from './rx/generation-api.js';
export type {
  GenerationEvent,
  TokenEvent,
  ForkEvent,
  JoinEvent,
  DoneEvent,
  ErrorEvent,
  PathInfo,
  FinishReason,
  FinishLimit,
  Usage,
} from './rx/events.js';
export type { Stage, SequentialStage, MapStage, DoneStage, PathBranch } from './rx/stages.js';
export type { Node, Branch, BranchResult, ForkSpec } from './rx/session.js';
export type { RequestStats } from './engine/request-context.js';
export { stepMs, type StepCost } from './engine/step-cost.js';
export type { MultiverseOptions, TokenPicker } from './engine/generate-options.js';
export type { MultiverseTemplate } from './multiverse/template.js';
export type { TagMode } from './multiverse/tag-scanner.js';
export { MULTIVERSE_TAGS, type MultiverseTagText } from './multiverse/tags.js';
export type { Checkpoint } from './model/checkpoint.js';
export type { GenerationConfig } from './model/parse-config.js';
export { reduceBranches } from './rx/operators/reduce-branches.js';
export { vote, type VoteResult } from './rx/operators/vote.js';
export { bestOf } from './rx/operators/best-of.js';
export { mergeBranches } from './rx/operators/merge-branches.js';
export { mapBranch } from './rx/operators/map-branch.js';
export { toText } from './rx/operators/to-text.js';
export type { ScoreResult, ScoredToken, ScoreOptions } from './multiverse/score.js';
export type { BranchNode, ForkNode } from './rx/branch-tree.js';
export type { GenerationBackend } from './rx/backend.js';
export { remoteModel, OpenAiRemoteModel } from './remote/remote-model.js';
export type { RemoteModelOptions } from './remote/options.js';
export type { ChatTemplate } from './remote/options.js';
