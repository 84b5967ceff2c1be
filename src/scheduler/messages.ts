import type { SamplingParams } from './sampling-params.js';
import type { FinishReason, TokenLogprob } from '../engine/types.js';

/** A validated, tokenized request as the front actor hands it to the scheduler. */
export interface SchedulerRequest {
  readonly id: string;
  readonly inputIds: number[];
  readonly sampling: SamplingParams;
  readonly maxTokens: number;
  readonly minTokens: number;
  readonly seed?: number;
  readonly stop: string[];
  readonly stopTokenIds: number[];
  readonly ignoreEos: boolean;
  /** Output logprobs wanted; topLogprobs alternatives per position. */
  readonly logprobs: boolean;
  readonly topLogprobs: number;
  /** Prompt logprobs from this position (undefined: none). */
  readonly promptLogprobsFrom?: number;
  readonly promptTopLogprobs: number;
  readonly includeSpecialTokens: boolean;
}

/** A prompt position's logprob (null for position 0). */
export interface PromptLogprob {
  readonly token: number;
  readonly logprob: number | null;
  readonly topLogprobs?: { token: number; logprob: number }[];
}

/** What the scheduler tells the front about one request after a step. */
export interface RequestEvent {
  readonly id: string;
  readonly tokenIds: number[];
  readonly text: string;
  readonly logprobs?: TokenLogprob[];
  readonly promptLogprobs?: PromptLogprob[];
  readonly finish?: {
    readonly reason: FinishReason;
    readonly matched?: string | number;
    readonly usage: { promptTokens: number; completionTokens: number; cachedTokens: number };
    readonly error?: string;
  };
}
