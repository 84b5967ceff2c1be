import type { ChatTurn, GenMetaInfo, SamplingOptions, TokenLogprobEntry } from './types.js';

/** One `gen` as a backend sees it: the whole text so far (prefix reuse is the runtime's job). */
export interface GenCall {
  readonly text: string;
  readonly options: SamplingOptions;
  readonly signal?: AbortSignal;
  /** Called with each new piece of text as it is generated; without it the backend may not stream. */
  readonly onText?: (piece: string) => void;
}

/** The outcome of a `gen`. */
export interface GenOutcome {
  readonly text: string;
  readonly meta: GenMetaInfo;
}

/** One choice of a `select`, scored by the backend. */
export interface ScoredChoice {
  /** Logprobs of the choice's tokens from the first one that differs from the prefix's own tokens (token healing). */
  readonly tokens: readonly TokenLogprobEntry[];
  /** The same tokens' logprobs on their own, with no prefix (asked for by unconditional_likelihood_normalized). */
  readonly unconditional?: readonly TokenLogprobEntry[];
}

/** Renders chat turns with the model's chat template, without a generation prompt. */
export type ChatRenderer = (turns: readonly ChatTurn[]) => string;

/**
 * Where programs run: the in-process engine ({@link EngineBackend}) or a server speaking SGLang's
 * native protocol ({@link RuntimeEndpoint}). Both make the same requests in the same order, so a
 * greedy program gives the same result on either.
 */
export interface LangBackend {
  /** Prefills `text` with no output (max_new_tokens 0) so later requests reuse its KV; resolves with its token count. */
  cachePrefix(text: string, signal?: AbortSignal): Promise<number>;
  /** Generates a continuation of `call.text`. */
  generate(call: GenCall): Promise<GenOutcome>;
  /**
   * Caches `prefix`, then scores every `prefix + choice` in one batch (greedy, prefill only).
   * @param unconditional also score each choice's tokens with no prefix.
   */
  scoreChoices(prefix: string, choices: readonly string[], unconditional: boolean, signal?: AbortSignal): Promise<ScoredChoice[]>;
  /** The model's chat template, for role blocks. */
  chatRenderer(): Promise<ChatRenderer>;
}
