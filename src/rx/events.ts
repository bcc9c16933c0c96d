/** The flat event stream's types, produced by the Multiverse plan (src/multiverse/events.ts). */
export type { DoneEvent, ErrorEvent, FinishLimit, FinishReason, ForkEvent, GenerationEvent, JoinEvent, PathInfo, TokenEvent, Usage } from '../multiverse/events.js';
