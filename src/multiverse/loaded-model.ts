/**
 * A loaded model as the Multiverse layer and rx/ see it: the native runtime plus how the model
 * writes the tags and which openers it is forced. The facade's `Model` implements it.
 */
import type { NativeRuntime } from '../engine/native-runtime.js';
import type { TagMode } from './tag-scanner.js';
import type { MultiverseTemplate } from './template.js';

export interface LoadedModel extends NativeRuntime {
  /** The forced path and conclusion openers (multiverse.json, or the defaults). */
  readonly template: MultiverseTemplate;
  /** How this model writes the Multiverse tags: as added tokens, or as text. */
  readonly tagMode: TagMode;
}
