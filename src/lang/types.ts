import type { FinishReason, GenerateRequest } from '../engine/types.js';

/**
 * Sampling and logprob options of `gen`, with the engine's names and defaults (maxTokens 128,
 * temperature 1, …). Over HTTP they travel as SGLang's `sampling_params`.
 */
export type SamplingOptions = Pick<
  GenerateRequest,
  | 'maxTokens'
  | 'minTokens'
  | 'temperature'
  | 'topP'
  | 'topK'
  | 'minP'
  | 'frequencyPenalty'
  | 'presencePenalty'
  | 'repetitionPenalty'
  | 'logitBias'
  | 'seed'
  | 'stop'
  | 'stopTokenIds'
  | 'ignoreEos'
  | 'includeSpecialTokens'
  | 'logprobs'
  | 'topLogprobs'
  | 'promptLogprobsFrom'
>;

/** One alternative at a position: token id, logprob and the token's text. */
export interface TopTokenLogprob {
  readonly token: number;
  readonly logprob: number;
  readonly text: string;
}

/** A token of a prompt or an output with its logprob (null for the first prompt token, which has none). */
export interface TokenLogprobEntry {
  readonly token: number;
  readonly logprob: number | null;
  readonly text: string;
  /** The best alternatives at this position, when `topLogprobs` was asked for. */
  readonly topLogprobs?: readonly TopTokenLogprob[];
}

/** What `state.metaInfo(name)` holds for a variable made by `gen`. */
export interface GenMetaInfo {
  readonly kind: 'gen';
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens whose KV came from the radix cache. */
  readonly cachedTokens: number;
  readonly finishReason: FinishReason;
  /** The stop string or token id that ended generation. */
  readonly matchedStop?: string | number;
  /** Prompt tokens from `promptLogprobsFrom` on. */
  readonly inputTokenLogprobs?: readonly TokenLogprobEntry[];
  /** Generated tokens, when `logprobs` or `topLogprobs` was asked for. */
  readonly outputTokenLogprobs?: readonly TokenLogprobEntry[];
}

/** How `select` picks a choice from the choices' token logprobs (SGLang's three methods). */
export type ChoiceMethod = 'token_length_normalized' | 'greedy_token_selection' | 'unconditional_likelihood_normalized';

/** What `state.metaInfo(name)` holds for a variable made by `select`; lists are per choice, in order. */
export interface SelectMetaInfo {
  readonly kind: 'select';
  readonly method: ChoiceMethod;
  /** Index of the chosen choice. */
  readonly index: number;
  /** Mean logprob of each choice's scored tokens. */
  readonly normalizedPromptLogprobs: readonly number[];
  /** Each choice's scored tokens: from the first token where `prefix + choice` leaves the prefix's tokens. */
  readonly inputTokenLogprobs: readonly (readonly TokenLogprobEntry[])[];
  /** Always empty lists: scoring generates nothing (kept for SGLang's shape). */
  readonly outputTokenLogprobs: readonly (readonly TokenLogprobEntry[])[];
  /** greedy_token_selection: per choice, its token logprobs padded with their mean to the longest choice. */
  readonly greedyLogprobMatrix?: readonly (readonly number[])[];
  /** unconditional_likelihood_normalized: the scored tokens' logprobs with no prefix (the first is null). */
  readonly unconditionalTokenLogprobs?: readonly (readonly TokenLogprobEntry[])[];
  /** unconditional_likelihood_normalized: mean of (conditional − unconditional) logprob per choice. */
  readonly normalizedUnconditionalPromptLogprobs?: readonly number[];
}

export type MetaInfo = GenMetaInfo | SelectMetaInfo;

/** A chat role of `system` / `user` / `assistant` blocks. */
export type Role = 'system' | 'user' | 'assistant';

/** One chat turn as the program's role blocks produced it (OpenAI shape). */
export interface ChatTurn {
  readonly role: Role;
  readonly content: string;
}
