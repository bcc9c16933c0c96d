/**
 * What the server needs of a model: the backend interface (events, sessions), the loaded model's
 * parts that check a request before it streams (options, prompt tokens, limits), scoring for echoed
 * logprobs, and KV and step-loop figures for /health and /metrics. The facade's `Model` is one; the
 * server never depends on that class, and each of its files takes only the part it uses.
 */
import type { AdmissionStats } from '../engine/admission.js';
import type { LoadedModel } from '../multiverse/loaded-model.js';
import type { ScoreOptions, ScoreResult } from '../multiverse/score.js';
import type { KvStats } from '../native/binding.js';
import type { GenerationBackend } from '../rx/backend.js';
import type { GenerateInput } from '../rx/generate.js';

export interface ServedModel extends GenerationBackend, LoadedModel {
  score(input: GenerateInput, options?: ScoreOptions): Promise<ScoreResult>;
  kvStats(): KvStats;
  admissionStats(): AdmissionStats;
}
