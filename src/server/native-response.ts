import type { GenerateResult, StreamChunk, TokenLogprob } from '../engine/types.js';
import type { TokenTextSource } from '../openai/logprobs.js';
import type { LogprobOptions, NativeItem } from './native-request.js';

/** `[logprob, token_id, text]`; text is null unless `return_text_in_logprobs`. */
export type LogprobTriple = [number | null, number, string | null];

/** SGLang's finish_reason object. */
export type NativeFinishReason =
  | { type: 'stop'; matched: string | number | null }
  | { type: 'length'; length: number }
  | { type: 'abort'; message: string };

/** One /generate response (or, cumulative so far, one streamed event). */
export interface NativeResponse {
  text: string;
  meta_info: {
    id: string;
    prompt_tokens: number;
    completion_tokens: number;
    cached_tokens: number;
    finish_reason: NativeFinishReason | null;
    e2e_latency: number;
    input_token_logprobs?: LogprobTriple[];
    output_token_logprobs?: LogprobTriple[];
    /**
     * How many output tokens have logprobs so far (SGLang's TokenizerManager: the cumulative count,
     * which streaming clients use to place the entries they get). Present with `return_logprob`.
     */
    output_token_logprobs_length?: number;
    input_top_logprobs?: (LogprobTriple[] | null)[];
    output_top_logprobs?: LogprobTriple[][];
  };
  /** Which input of a list request this event belongs to (streamed list requests only). */
  index?: number;
}

type PromptLogprobs = NonNullable<GenerateResult['promptLogprobs']>;

/**
 * Builds the native response of one item from its engine output: a whole GenerateResult, or the
 * chunks of a stream fed one by one (a GenerateResult has every field a chunk has, so both paths
 * share this code and cannot drift apart).
 */
export class NativeOutput {
  private text = '';
  private completionTokens = 0;
  private cachedTokens = 0;
  private finish: NativeFinishReason | null = null;
  private readonly output: TokenLogprob[] = [];
  private prompt: PromptLogprobs = [];

  constructor(
    private readonly item: NativeItem,
    private readonly logprob: LogprobOptions,
    private readonly tokenizer: TokenTextSource,
  ) {}

  /** Folds in the next chunk (or the whole result). */
  add(chunk: StreamChunk): void {
    this.text += chunk.text;
    this.completionTokens += chunk.tokenIds.length;
    if (chunk.logprobs) this.output.push(...chunk.logprobs);
    if (chunk.promptLogprobs) this.prompt = chunk.promptLogprobs;
    if (chunk.usage) {
      this.completionTokens = chunk.usage.completionTokens;
      this.cachedTokens = chunk.usage.cachedTokens;
    }
    if (chunk.finishReason) {
      this.finish = finishReasonOf(chunk, this.completionTokens);
      // no_stop_trim: SGLang keeps the stop string that ended generation in the text.
      if (this.item.noStopTrim && chunk.finishReason === 'stop' && typeof chunk.matchedStop === 'string') this.text += chunk.matchedStop;
    }
  }

  /** The response as it stands; `e2e` is the seconds since the request arrived. */
  toJSON(e2e: number): NativeResponse {
    const meta: NativeResponse['meta_info'] = {
      id: this.item.rid,
      prompt_tokens: this.item.request.inputIds.length,
      completion_tokens: this.completionTokens,
      cached_tokens: this.cachedTokens,
      finish_reason: this.finish,
      e2e_latency: e2e,
    };
    if (this.logprob.enabled) {
      meta.input_token_logprobs = this.prompt.map((p) => this.triple(p.logprob, p.token));
      meta.output_token_logprobs = this.output.map((t) => this.triple(t.logprob, t.token));
      meta.output_token_logprobs_length = this.output.length;
      if (this.logprob.topN > 0) {
        // The first prompt token has no logprob and so no alternatives.
        meta.input_top_logprobs = this.prompt.map((p) => (p.topLogprobs ? p.topLogprobs.map((a) => this.triple(a.logprob, a.token)) : null));
        meta.output_top_logprobs = this.output.map((t) => (t.topLogprobs ?? []).map((a) => this.triple(a.logprob, a.token)));
      }
    }
    return { text: this.text, meta_info: meta };
  }

  private triple(logprob: number | null, token: number): LogprobTriple {
    return [logprob, token, this.logprob.withText ? this.tokenizer.tokenText(token) : null];
  }
}

function finishReasonOf(chunk: StreamChunk, completionTokens: number): NativeFinishReason {
  switch (chunk.finishReason) {
    case 'stop':
      return { type: 'stop', matched: chunk.matchedStop ?? null };
    case 'length':
      return { type: 'length', length: completionTokens };
    default:
      return { type: 'abort', message: 'the request was aborted' };
  }
}
